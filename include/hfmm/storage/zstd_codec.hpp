#pragma once
// zstd_codec: the JSON store compressed with Zstandard, for basic_json_file_storage.
// The file is a standard .zst (zstd -d reads it); the journal stays plain text.
// Needs libzstd (CMake target hfmm::zstd).

#include <hfmm/storage/json_file.hpp>

#include <zstd.h>

#include <memory>
#include <vector>

namespace hfmm {

struct zstd_codec {
  static constexpr std::string_view suffix = ".json.zst";

  static result<void> encode(std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    auto n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n)) return errc::storage_io;
    out.resize(n);
    data = std::move(out);
    return {};
  }

  /// An empty file is an empty catalog; a truncated or damaged frame is corrupt.
  static result<void> decode(std::string& data) {
    if (data.empty()) return {};
    std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!ctx) return errc::storage_io;
    std::string out;
    std::vector<char> chunk(ZSTD_DStreamOutSize());
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (;;) {
      ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
      auto left = ZSTD_decompressStream(ctx.get(), &o, &in);
      if (ZSTD_isError(left)) return errc::storage_corrupt;
      out.append(chunk.data(), o.pos);
      if (left == 0 && in.pos == in.size) break;                 // every frame complete
      if (in.pos == in.size && o.pos < o.size) return errc::storage_corrupt;  // input ended mid-frame
    }
    data = std::move(out);
    return {};
  }
};

using zstd_json_file_storage = basic_json_file_storage<zstd_codec>;
static_assert(storage<zstd_json_file_storage>);

}  // namespace hfmm
