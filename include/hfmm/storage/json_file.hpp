#pragma once
// json_file_storage: the Python Model Manager's JSON file (its exact layout), safely.
//
//  - The file is the Python layout: one object keyed by model_id; files move both ways.
//  - A writer (open_mode::read_write, the default) takes an flock on "<file>.lock": a second
//    writer, in this process or another, gets storage_locked. A reader (open_mode::read_only)
//    takes no lock and creates nothing, so it works while a writer holds the store and in a
//    read-only directory; it sees the last committed state (the file plus the journal's intact
//    records). Constructors do no I/O.
//  - An unreadable file fails with storage_corrupt and is never overwritten (error_detail()
//    says where and why); a JSON file that is not a catalog is refused the same way.
//  - upsert/erase append one checksummed line to "<file>.journal" and fdatasync before
//    returning: a write costs the change, not the catalog. The journal's header is stamped with
//    the base file's size and mtime (read when it was loaded, so no write re-reads it); a
//    journal whose base was rewritten by someone else (the Python code) is refused with
//    storage_conflict, nothing touched; a newer journal format → schema_newer. A torn last line
//    (a crash mid-append) was never acknowledged and is dropped.
//  - Compaction folds the journal into the file atomically (temp file, fsync, rename, fsync of
//    the directory), streaming: the file is re-read record by record, so memory stays one
//    record and a buffer. The new file keeps the old one's mode, owner and group. When
//    (docs/policies.md "JSON file: compaction"): on a write once the journal outgrows
//    compact_threshold and a quarter of the file; on close() when file and journal together
//    are at most compact_on_close_bytes (small catalogs end every session as one plain file,
//    which is all the Python Model Manager reads); and whenever compact() is called.
// basic_json_file_storage<Codec> stores the file through a codec (gzip_codec, zstd_codec): the
// compressed file is decoded and encoded whole; the journal stays plain text. Not thread-safe.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/ascii.hpp>
#include <hfmm/detail/catalog_loader.hpp>
#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/posix_file.hpp>
#include <hfmm/detail/string_table.hpp>
#include <hfmm/json.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

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
  explicit basic_json_file_storage(std::filesystem::path path, open_mode mode = open_mode::read_write)
      : path_(std::move(path)), mode_(mode) {}

  /// A write compacts once the journal holds more than this many bytes and more than a quarter
  /// of the file's (so replaying it never costs more than a fraction of reading the file).
  std::uint64_t compact_threshold = 16u << 20;
  /// close() compacts when file and journal together hold at most this many bytes (0: never;
  /// the maximum: always). Larger catalogs keep their journal until a write or compact().
  std::uint64_t compact_on_close_bytes = 64u << 20;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path journal_path() const { return with_suffix(".journal"); }
  open_mode mode() const noexcept { return mode_; }
  /// Why the last call failed (path, position, cause), after storage_* errors and schema_newer.
  const std::string& error_detail() const noexcept { return detail_; }

  /// A writer takes the lock and finishes an interrupted compaction; a reader does nothing.
  /// Errors: storage_locked, storage_io (missing directory, permissions), storage_conflict,
  /// storage_read_only (a writer on a file whose mode forbids writing).
  result<void> open();
  /// The catalog: the file, then the journal replayed, both read in chunks. Errors:
  /// storage_corrupt, storage_conflict, schema_newer, storage_io.
  result<std::vector<model_metadata>> load();
  result<void> upsert(const model_metadata& m) { return upsert_many({&m, 1}); }
  /// All of `models` in one journal record: after a crash, all or none of them. A writer may
  /// append without load() (an import into a large catalog costs the import).
  /// Errors: storage_read_only, invalid_argument (a value JSON cannot hold), storage_io.
  result<void> upsert_many(std::span<const model_metadata> models);
  result<void> erase(std::string_view id);
  // ---- queries that do not load the catalog (what a one-shot command pays; after open())
  /// The model `id`, building only its record: the file is scanned at the parser's speed (the
  /// other records are tokenized, not built) and the journal replayed for it. Empty: not in
  /// the catalog. Errors as load().
  result<std::optional<model_metadata>> find_model(std::string_view id);
  /// The models with a current file path containing `pattern` (ASCII case-insensitive), each
  /// once, in catalog order: get_models_with_file without loading the catalog (one scan finds
  /// the records, a second builds them). Errors as load().
  result<std::vector<model_metadata>> find_models_with_file(std::string_view pattern);

  /// Folds the journal into the file now (loading it first if needed). Errors: storage_read_only,
  /// storage_conflict (the file was rewritten by another program), storage_io.
  result<void> compact();
  /// Compacts by the close policy (when the catalog was loaded cleanly) and releases the
  /// lock; idempotent.
  result<void> close();

private:
  std::filesystem::path with_suffix(const char* suffix) const {
    auto p = path_;
    p += suffix;
    return p;
  }
  /// What the journal's header says about its base file.
  struct journal_header {
    int format = 0;
    detail::file_stamp base;     // exists false: there was no base file
    std::string base_sha256;     // format 1 only
  };
  /// Where a model of the catalog comes from, for compaction (which re-reads it from there).
  struct source {
    static constexpr std::uint64_t in_base = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t journal_offset = in_base;  // else the byte offset of its journal line
    std::uint32_t index = 0;                 // base record ordinal, or index in the line's models
  };
  struct catalog_entry {
    std::string id;
    source from;
    bool erased = false;
  };
  struct journal_extent {
    std::uint64_t valid_bytes = 0;  // up to the last intact record (0: no journal)
    std::uint64_t records = 0;
  };
  result<void> load_once(std::vector<model_metadata>& models, bool& retry);
  /// Parses the file (the stamp in base_), building the records `filter` lets through.
  template <class OnRecord>
  result<void> read_base(OnRecord on_record, detail::record_filter* filter, std::uint64_t* position = nullptr);
  /// Builds the one record filed under `key` that starts in the piece at file offset `piece`.
  template <class OnRecord>
  bool read_record(std::uint64_t piece, std::string_view key, std::string_view model_id, OnRecord& on_record);
  /// Replays one journal: on_upsert(id, model JSON, where) → result<void>, on_erase(id).
  /// `retry`: a reader raced a compaction and must read the file again.
  template <class OnUpsert, class OnErase>
  result<void> read_journal(const std::filesystem::path& p, bool compacting_copy, OnUpsert on_upsert, OnErase on_erase,
                            bool& retry, journal_extent* extent);
  /// The journal that applies to base_ (for a reader, also the one a compaction set aside).
  template <class OnUpsert, class OnErase>
  result<void> read_journals(OnUpsert on_upsert, OnErase on_erase, bool& retry, journal_extent* extent);
  result<void> reopen_journal(const journal_extent& extent);
  struct selection;
  result<std::vector<model_metadata>> select(selection& which);
  void note_upsert(std::string_view id, source from);
  void note_erase(std::string_view id);
  result<journal_header> read_header(std::string_view line, const std::filesystem::path& p);
  result<bool> header_matches(const journal_header& h, const detail::file_stamp& base);
  result<void> check_base_unchanged();
  /// Appends one record; returns the byte offset of its line.
  result<std::uint64_t> append_record(const boost::json::object& record);
  result<void> write_compacted(int out_fd, std::string* whole);
  bool wants_compaction() const noexcept;

  std::filesystem::path path_;
  open_mode mode_ = open_mode::read_write;
  detail::unique_fd lock_;
  detail::unique_fd journal_;
  std::uint64_t journal_bytes_ = 0;
  bool opened_ = false, loaded_ok_ = false;
  bool load_failed_ = false;  // a store that could not be read is never written
  detail::file_stamp base_;  // the file load() read
  // The catalog's ids in first-insert order and where each one's record is; the base's record
  // ordinals map to entries (or npos for a record whose id came earlier). Duplicate ids in the
  // base (another key, same model_id) keep a copy of their final model: compaction writes it at
  // the first position, as load() does.
  std::vector<catalog_entry> entries_;
  std::unordered_map<std::string, std::size_t> entry_of_;
  std::vector<std::size_t> entry_of_base_record_;
  std::unordered_map<std::string, model_metadata> base_duplicates_;
  std::string detail_;
};

using json_file_storage = basic_json_file_storage<identity_codec>;
static_assert(storage<json_file_storage>);

}  // namespace hfmm

#include <hfmm/impl/json_file.ipp>
