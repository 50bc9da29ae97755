#pragma once
// gzip_codec: the JSON store compressed with gzip (zlib), for basic_json_file_storage.
// The file is a standard .gz (gunzip reads it); the journal stays plain text.
// Needs zlib (CMake target hfmm::gzip).

#include <hfmm/storage/json_file.hpp>

#include <zlib.h>

#include <algorithm>

namespace hfmm {

struct gzip_codec {
  static constexpr std::string_view suffix = ".json.gz";

  static result<void> encode(std::string& data) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return errc::storage_io;
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(data.data());
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return errc::storage_io;
    data = std::move(out);
    return {};
  }

  /// An empty file is an empty catalog; anything that is not a complete gzip stream is corrupt.
  static result<void> decode(std::string& data) {
    if (data.empty()) return {};
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) return errc::storage_io;
    std::string out;
    out.resize(std::max<std::size_t>(data.size() * 4, 4096));
    z.next_in = reinterpret_cast<Bytef*>(data.data());
    z.avail_in = static_cast<uInt>(data.size());
    int rc;
    do {
      if (z.total_out == out.size()) out.resize(out.size() * 2);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
      z.avail_out = static_cast<uInt>(out.size() - z.total_out);
      rc = inflate(&z, Z_NO_FLUSH);
    } while (rc == Z_OK);
    out.resize(z.total_out);
    bool complete = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!complete) return errc::storage_corrupt;
    data = std::move(out);
    return {};
  }
};

using gzip_json_file_storage = basic_json_file_storage<gzip_codec>;
static_assert(storage<gzip_json_file_storage>);

}  // namespace hfmm
