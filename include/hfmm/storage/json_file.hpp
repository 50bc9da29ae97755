#pragma once
// json_file_storage: the Python Model Manager's JSON file (DESIGN §4.1), safely.
//
//  - The file is the Python layout: one object keyed by model_id; files move both ways.
//  - open() takes an flock on "<file>.lock": a second writer, in this process or another,
//    gets storage_locked. Constructors do no I/O.
//  - An unreadable file fails with storage_corrupt and is never overwritten
//    (error_detail() says where it is broken).
//  - upsert/erase append one checksummed line to "<file>.journal" and fdatasync before
//    returning, so add_model does not rewrite a large catalog. The journal's header is
//    stamped with the base file's size, mtime and SHA-256; a journal whose base was rewritten
//    by someone else (the Python code) is refused with storage_conflict, nothing touched; a
//    journal of a newer format → schema_newer. A torn last line (a crash mid-append) was
//    never acknowledged and is dropped.
//  - The journal is folded into the file (atomically: temp file, fsync, rename, fsync of the
//    directory) on close() and when it outgrows compact_threshold.
// basic_json_file_storage<Codec> stores the file through a codec (gzip_codec, zstd_codec);
// the journal stays plain text. One writer at a time; not thread-safe.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/catalog_loader.hpp>
#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/posix_file.hpp>
#include <hfmm/detail/scratch_memory.hpp>
#include <hfmm/json.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <filesystem>
#include <unordered_map>

namespace hfmm {

/// Stores the JSON text as is.
struct identity_codec {
  static constexpr std::string_view suffix = ".json";
  static result<void> decode(std::string&) { return {}; }
  static result<void> encode(std::string&) { return {}; }
};

template <class Codec>
class basic_json_file_storage {
public:
  /// MODEL_MANAGER_JSON_PATH, else ./model_metadata.json (as the Python Model Manager).
  static std::filesystem::path default_path() {
    const char* env = std::getenv("MODEL_MANAGER_JSON_PATH");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path("./model_metadata.json");
  }

  basic_json_file_storage() : basic_json_file_storage(default_path()) {}
  explicit basic_json_file_storage(std::filesystem::path path) : path_(std::move(path)) {}

  /// Journal size past which the journal is folded into the file.
  std::uint64_t compact_threshold = 16u << 20;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path journal_path() const { return with_suffix(".journal"); }
  /// What was wrong with the file after storage_corrupt / storage_conflict / schema_newer.
  const std::string& error_detail() const noexcept { return detail_; }

  /// Takes the writer lock and finishes an interrupted compaction. Errors: storage_locked,
  /// storage_io (missing directory, permissions), storage_conflict.
  result<void> open();
  /// The catalog: the file, then the journal replayed. Errors: storage_corrupt,
  /// storage_conflict, schema_newer, storage_io.
  result<std::vector<model_metadata>> load();
  result<void> upsert(const model_metadata& m) { return upsert_many({&m, 1}); }
  /// All of `models` in one journal record: after a crash, all or none of them.
  result<void> upsert_many(std::span<const model_metadata> models);
  result<void> erase(std::string_view id);
  /// Folds the journal into the file now.
  result<void> compact();
  /// Compacts (when the catalog was loaded cleanly) and releases the lock; idempotent.
  result<void> close();

private:
  std::filesystem::path with_suffix(const char* suffix) const {
    auto p = path_;
    p += suffix;
    return p;
  }
  struct journal_header {
    std::uint64_t base_size = 0;
    std::int64_t base_mtime_ns = 0;
    std::string base_sha256;  // empty: there was no base file
  };
  struct journal_contents {
    journal_header header;
    std::vector<boost::json::object> records;
    std::uint64_t valid_bytes = 0;  // up to the last complete, checksummed record
  };
  result<journal_contents> read_journal(const std::filesystem::path& p);
  result<journal_header> stamp_base();
  result<bool> stamp_matches(const journal_header& h, const std::string_view* base_bytes);
  result<void> append_record(const boost::json::object& record);
  result<boost::json::object> read_base_object(std::string* raw_out);

  std::filesystem::path path_;
  detail::unique_fd lock_;
  detail::unique_fd journal_;
  std::uint64_t journal_bytes_ = 0;
  bool loaded_ok_ = false;
  std::string detail_;
};

using json_file_storage = basic_json_file_storage<identity_codec>;
static_assert(storage<json_file_storage>);

}  // namespace hfmm

#include <hfmm/impl/json_file.ipp>
