#pragma once
// The normalized SQL layout shared by the SQLite, DuckDB and PostgreSQL stores (models, files and schema_version tables),
// written once over a small backend interface:
//
//   Backend::target_type                     what the constructor takes (path or conninfo)
//   static constexpr sql_dialect dialect       type names and catalog queries
//   result<void> connect(), void disconnect()  (connect locks single-writer files)
//   result<void> exec(sql)                     statements without parameters
//   result<void> run(sql, params)              one prepared statement ($1..$n, text values)
//   result<sql_rows> rows(sql, params)         a query; every value as text or NULL
//   result<void> upsert_models(rows)           insert or update model rows (keeping position)
//   result<void> insert_files(rows)            the fastest bulk insert the backend has
//   result<void> insert_paths(rows)            (path, lower_path) rows, those already stored skipped
//   std::string& detail()                      the backend's last error message
//
// Models: one row each, the Python Model Manager's columns plus position (first-insert
// order), the structure's scalar fields, `previous` (one level of history, JSON), `extra`
// (unknown record keys, JSON) and `model_info` (the Hub's model info, JSON). Paths: each
// distinct file path once, with its ASCII-lower-cased form (what a path search scans: paths
// repeat across repositories, so there are far fewer than files). Files: one row each, naming
// its path by path_id; download_url NULL when it is the standard URL (models.url_prefix +
// encoded path), '' when the entry had none. Versions: 1 (without `previous` and `extra`) and
// 2 (without `model_info`) are upgraded in place, a column added at a time; 3 (files.path as
// text) gains the paths table and its files table is rebuilt with path ids, in one
// transaction; a newer one is refused (schema_newer). The Python Model Manager's own table `model_metadata`, when present, is
// imported on open (rows that are new or newer than ours); it is never modified.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/ascii.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/time.hpp>
#include <hfmm/json.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace hfmm::detail {

/// A reader's open of a database file that is not there (a writer creates it).
inline error_code no_such_database(const std::filesystem::path& p, std::string& detail) {
  detail = p.string() + ": no such database (a write, e.g. hfmm add, creates it)";
  return errc::file_not_found;
}

using sql_value = std::optional<std::string>;
using sql_row = std::vector<sql_value>;
using sql_rows = std::vector<sql_row>;

struct sql_dialect {
  const char* json_type;    ///< JSON column type
  const char* bigint_type;  ///< 64-bit integers
  /// Text compared only whole, never searched or shown sorted (model ids, paths, digests).
  /// PostgreSQL's "C" collation compares bytes, which is also the order hfmm sorts paths in;
  /// the database's own (C.UTF-8 here) cost more to sort: a 100 000-model import built its
  /// files indexes in 5.9 s against 4.4 s. Only new stores get it: an older one works the same.
  const char* identifier_text_type = "TEXT";
  const char* table_exists; ///< a query with $1 = table name, returning a row when it exists
  const char* in_strings;   ///< " IN (…)" or " = ANY(…)" after a column: it is one of the strings listed in $1 (list_param)
  const char* in_numbers;   ///< the same for integers
  const char* path_key;     ///< the paths.path_id column: an integer key the database assigns
  const char* path_key_setup;  ///< what path_key needs created first ("" when nothing)
  const char* column_exists;///< $1 = table, $2 = column
  const char* migrate_lock = nullptr;    ///< serializes schema changes between processes (shared stores)
  const char* migrate_unlock = nullptr;
  /// Starts a read transaction on one snapshot of the database.
  const char* begin_snapshot = "BEGIN";
  /// $1 lists are array literals ({"a","b"}), which the planner sees as values (PostgreSQL
  /// estimates a JSON function's rows at 100 and scanned the files table), else JSON arrays.
  bool array_lists = false;
  /// Run after an import: planner statistics for the tables it filled (nullptr: the
  /// database keeps them itself). Without them PostgreSQL planned a one-model read of a fresh
  /// 24 M-file import as a parallel scan with JIT: 60 ms instead of 1.
  const char* refresh_statistics = nullptr;
  /// Makes an index for substring search of paths.lower_path, when the database has one
  /// (nullptr: the search scans the distinct paths). It may fail (an extension not installed or
  /// not permitted): the store then works without it. Not a schema change: older hfmm
  /// versions read and write a store that has it.
  const char* path_search_index = nullptr;
  /// A row when that index exists.
  const char* path_search_index_exists = nullptr;
  /// In a transaction, a row "t" when this process may make the index now (held to the end of
  /// the transaction); another process making it is not waited for.
  const char* path_search_index_claim = nullptr;
  /// The columns of the index of a model's files (files_model_path). SQLite and PostgreSQL use
  /// a leading part of a composite index; DuckDB uses an ART index only for a predicate on all
  /// of its columns, and otherwise scanned every file row for one model (0.24 s at 24 M rows).
  const char* model_files_index_columns = "model_id, path_id";
  /// The columns of the index of a path's files (files_path). With model_id in it, the models
  /// holding a path are read from the index alone: at 1 000 000 models SQLite counted the 5.7 M
  /// files at a model's paths in 0.19 s, and took 8.2 s to read their model ids from the table.
  /// DuckDB: on path_id alone, for the reason above. A store made before has it on path_id
  /// alone; repair_file_indexes makes it again.
  const char* path_files_index_columns = "path_id, model_id";
  /// Up to this many values, a lookup asks `column = $1` once per value: DuckDB answers an
  /// equality from an ART index, and a list (a semi-join) by scanning the whole table.
  std::size_t point_lookups_up_to = 0;
  /// The files table's indexes: a row each, its name and its CREATE INDEX text.
  const char* files_index_definitions;
  /// An import into an empty store builds the files indexes after its load has committed, one
  /// transaction each (a read-write open builds one that is missing: a process killed between
  /// the two). DuckDB builds an ART index in memory: inside the load's transaction the four of
  /// them came on top of the uncommitted load, 12.4 GB at 24 M files.
  bool indexes_built_after_load = false;
  /// Run before and after an import builds the files indexes of an empty store (nullptr:
  /// nothing). SQLite's sorter is faster with a small page cache and a helper thread.
  const char* before_index_builds = nullptr;
  const char* after_index_builds = nullptr;
  /// Where set, an import into an empty store commits every this many files: the database holds
  /// an uncommitted load in memory (DuckDB, 24 M files: 8.2 GB peak in one transaction, 3.7 GB
  /// committing every 2 M). All or nothing still holds: the table hfmm_import_unfinished marks
  /// the store until the last commit; a failed import empties the store again, and so does the
  /// next read-write open after a killed one. No other process sees the commits in between:
  /// the one backend that sets it (DuckDB) admits no other process while it writes.
  std::size_t bulk_commit_files = 0;
  /// Models per batch of read_batches. Their files are found through the models' positions:
  /// SQLite and PostgreSQL by index, DuckDB by a scan of the files table per batch (it answers
  /// a semi-join so), hence larger batches there.
  std::size_t read_batch_models = 1000;
};

/// The files table, one row per file, in this column order. download_url is NULL when it is
/// the standard URL (models.url_prefix + encoded path), '' when the entry had none. The table
/// holds the path's id (paths.path_id); a row read back holds the path itself in that place.
enum file_column : std::size_t {
  file_model_id, file_path, file_size, file_oid, file_lfs_sha256, file_lfs_size, file_pointer_size, file_xet_hash,
  file_download_url, file_column_count
};
struct sql_column {
  std::string_view name;
  bool integer, required;
  /// Text compared only whole (ids, digests): the dialect's identifier_text_type.
  bool identifier;
};
inline constexpr sql_column file_columns[file_column_count] = {
    {"model_id", false, true, true},     {"path_id", true, true, false},      {"size", true, true, false},
    {"oid", false, true, true},          {"lfs_sha256", false, false, true},  {"lfs_size", true, false, false},
    {"pointer_size", true, false, false}, {"xet_hash", false, false, true},   {"download_url", false, false, false}};
/// The files columns over `files f` joined with `paths p`, the path's place taken by
/// `path_column`: "f.model_id, p.path, f.size, ..." (as read) or with p.path_id (as stored).
inline std::string files_select_list(std::string_view path_column = "p.path") {
  std::string list;
  for (std::size_t c = 0; c < file_column_count; ++c)
    list.append(list.empty() ? "" : ", ").append(c == file_path ? std::string(path_column) : "f." + std::string(file_columns[c].name));
  return list;
}
inline constexpr const char* files_with_paths = " files f JOIN paths p ON p.path_id = f.path_id";

/// One distinct path to store: the path and its ASCII-lower-cased form.
using path_row = std::array<sql_value, 2>;
/// A path row, unless that path is stored already (the row-at-a-time form).
inline constexpr std::string_view paths_insert_statement =
    "INSERT INTO paths (path, lower_path) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING";

/// One file row, ready to insert (file_column order).
using file_row = std::array<sql_value, file_column_count>;

/// The models columns that hold a record field under its own name, in the field table's order
/// (json.hpp): every field but model_id (the key, first) and repository_structure (split into
/// the structure columns and the files table).
inline constexpr auto record_columns = [] {
  std::array<model_field, std::size(model_fields) - 2> out{};
  std::size_t n = 0;
  for (auto f : model_fields)
    if (f.key != "model_id" && f.kind != field_kind::structure) out[n++] = f;
  return out;
}();

/// After the record columns: the structure's own fields, `previous` (one level of history, as
/// JSON), `extra` (the record's unknown keys, as JSON), and the structure's file count and
/// bytes, written with its files (the stats and the similarity ranking read them from the
/// models row instead of counting 24 M files rows at 1 000 000 models).
enum structure_column : std::size_t {
  has_structure, structure_model_id, structure_repo_type, structure_branch, structure_commit_sha,
  structure_fetched_at, structure_url_prefix, structure_previous, record_extra, structure_model_info,
  structure_file_count, structure_total_size, structure_column_count
};
/// In the order the migrations added them (an added column comes last in the table).
inline constexpr std::string_view structure_columns[structure_column_count] = {
    "has_structure", "structure_model_id", "repo_type", "branch", "commit_sha", "fetched_at", "url_prefix", "previous",
    "extra", "model_info", "file_count", "total_size"};
inline constexpr bool is_json_column(structure_column c) noexcept {
  return c == structure_previous || c == record_extra || c == structure_model_info;
}
inline constexpr bool is_integer_column(structure_column c) noexcept {
  return c == has_structure || c == structure_file_count || c == structure_total_size;
}

/// A models row as load() reads it: model_id, the record columns, the structure columns.
inline constexpr std::size_t column_of(structure_column c) noexcept { return 1 + record_columns.size() + c; }

/// One models row to write: model_id, position (first-insert order), then as load() reads it.
using model_row = std::array<sql_value, 2 + record_columns.size() + structure_column_count>;
/// Whether a model_row's column `c` holds a number: the position, or an integer structure column.
inline constexpr bool is_integer_model_column(std::size_t c) noexcept {
  constexpr std::size_t first_structure = 2 + record_columns.size();
  return c == 1 || (c >= first_structure && c - first_structure < structure_column_count &&
                    is_integer_column(structure_column(c - first_structure)));
}

/// The models columns, comma-separated: with the position (what a write names) or without.
inline std::string models_column_list(bool with_position) {
  std::string list = with_position ? "model_id, position" : "model_id";
  for (auto f : record_columns) list.append(", ").append(f.key);
  for (auto c : structure_columns) list.append(", ").append(c);
  return list;
}
inline const std::string& models_columns() {
  static const std::string list = models_column_list(true);
  return list;
}

/// An upsert keeps the first-insert position: every column but model_id and position.
inline const std::string& models_on_conflict() {
  static const std::string sql = [] {
    std::string text = " ON CONFLICT (model_id) DO UPDATE SET ";
    auto set = [&, first = true](std::string_view column) mutable {
      text.append(first ? "" : ", ").append(column).append(" = excluded.").append(column);
      first = false;
    };
    for (auto f : record_columns) set(f.key);
    for (auto c : structure_columns) set(c);
    return text;
  }();
  return sql;
}

/// The row-at-a-time upsert (SQLite and PostgreSQL run it per row; DuckDB stages big batches).
inline const std::string& models_insert_statement() {
  static const std::string sql = [] {
    std::string text = "INSERT INTO models (" + models_columns() + ") VALUES (";
    for (std::size_t i = 1; i <= std::tuple_size_v<model_row>; ++i) text += (i > 1 ? ", $" : "$") + std::to_string(i);
    return text + ")";
  }();
  return sql;
}

inline const std::string& models_upsert_statement() {
  static const std::string sql = models_insert_statement() + models_on_conflict();
  return sql;
}

/// The update half of an upsert, for a backend that pays more for ON CONFLICT than for two
/// statements: every column but model_id and position, by key. Its parameters are a models row
/// without its position ($1 model_id, then the columns after position).
inline const std::string& models_update_statement() {
  static const std::string sql = [] {
    std::string text = "UPDATE models SET ";
    int parameter = 1;
    auto set = [&](std::string_view column) {
      if (parameter > 1) text += ", ";
      ++parameter;
      text.append(column).append(" = $").append(std::to_string(parameter));
    };
    for (auto f : record_columns) set(f.key);
    for (auto c : structure_columns) set(c);
    return text + " WHERE model_id = $1";
  }();
  return sql;
}

/// One prepared statement run once per row.
template <class Backend, class Rows>
result<void> run_each(Backend& db, std::string_view sql, const Rows& rows) {
  for (const auto& r : rows)
    if (auto ok = db.run(sql, r); !ok) return ok;
  return {};
}

inline constexpr int sql_schema_version = 5;

inline sql_value text_of(const boost::json::value& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return std::string(v.get_string());
  return boost::json::serialize(v);
}

inline std::optional<std::uint64_t> parse_u64(const sql_value& v) {
  if (!v) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || p != v->data() + v->size()) return std::nullopt;
  return n;
}

template <class Backend>
class sql_catalog {
public:
  explicit sql_catalog(typename Backend::target_type target, open_mode mode = open_mode::read_write)
      : db_(std::move(target)), mode_(mode) {}

  const std::string& error_detail() const noexcept { return db_.detail(); }
  Backend& backend() noexcept { return db_; }

  result<void> open() {
    if (open_) return {};
    if constexpr (requires { db_.connect(mode_); }) {
      if (auto ok = db_.connect(mode_); !ok) return ok;
    } else {
      if (auto ok = db_.connect(); !ok) return ok;
    }
    if (auto ok = mode_ == open_mode::read_only ? check_schema() : migrate(); !ok) {
      db_.disconnect();
      return ok;
    }
    open_ = true;
    return {};
  }

  result<void> close() {
    if (open_) db_.disconnect();
    open_ = false;
    return {};
  }

  result<std::vector<model_metadata>> load() {
    if (!open_) return errc::invalid_argument;
    return snapshot([&] { return read_models("", {}); });
  }

  // ---- queryable_storage: answers from the database's indexes, nothing loaded whole

  result<std::size_t> model_count() {
    auto n = single_number("SELECT COUNT(*) FROM models", {});
    if (!n) return n.error();
    return static_cast<std::size_t>(*n);
  }

  result<bool> contains(std::string_view id) {
    if (!open_) return errc::invalid_argument;
    sql_value key{std::string(id)};
    auto r = db_.rows("SELECT 1 FROM models WHERE model_id = $1", {&key, 1});
    if (!r) return {boost::system::in_place_error, r.error()};
    return !r->empty();
  }

  result<std::optional<model_metadata>> find_model(std::string_view id) {
    if (!open_) return errc::invalid_argument;
    sql_value key{std::string(id)};
    auto found = snapshot([&] { return read_models(" WHERE model_id = $1", {&key, 1}); });
    if (!found) return found.error();
    if (found->empty()) return std::optional<model_metadata>();
    return std::optional<model_metadata>(std::move(found->front()));
  }

  /// The stored models among `ids`, in catalog order; ids not stored are left out.
  result<std::vector<model_metadata>> find_models(std::span<const std::string> ids) {
    if (!open_) return errc::invalid_argument;
    if (ids.empty()) return std::vector<model_metadata>();
    if (ids.size() == 1) {
      auto one = find_model(ids[0]);
      if (!one) return one.error();
      std::vector<model_metadata> out;
      if (*one) out.push_back(std::move(**one));
      return out;
    }
    sql_value list = list_param(ids);
    return snapshot([&] { return read_models(std::string(" WHERE model_id") + Backend::dialect.in_strings, {&list, 1}); });
  }

  /// batch_reading_storage: the catalog in catalog order, dialect.read_batch_models models at a
  /// time, on one snapshot. Each batch is found from where the last one ended, by the position
  /// index: nothing is held across batches (all the positions of 1 000 000 models, as text,
  /// were about 100 MB).
  result<void> read_batches(const batch_reader& consume) {
    if (!open_) return errc::invalid_argument;
    const std::string position_after = "position > CAST($1 AS " + std::string(Backend::dialect.bigint_type) + ")";
    const std::string batch_end = "SELECT MAX(position) FROM (SELECT position FROM models WHERE " + position_after +
                                  " ORDER BY position LIMIT " + std::to_string(read_batch_models_) + ") AS next_batch";
    const std::string in_batch = " WHERE model_id IN (SELECT model_id FROM models WHERE " + position_after +
                                 " AND position <= CAST($2 AS " + Backend::dialect.bigint_type + "))";
    return snapshot([&]() -> result<void> {
      // A batch ends at a position, not a count: models sharing a position go in one batch.
      std::array<sql_value, 2> range{std::to_string(std::numeric_limits<std::int64_t>::min()), {}};
      for (;;) {
        auto end = db_.rows(batch_end, {range.data(), 1});
        if (!end) return end.error();
        if (end->empty() || !(*end)[0][0]) return {};
        range[1] = std::move((*end)[0][0]);
        auto batch = read_models(in_batch, range);
        if (!batch) return batch.error();
        if (auto ok = consume(*batch); !ok) return ok;
        range[0] = std::move(range[1]);
      }
    });
  }

  /// Every model's repository, branch and commit, in catalog order: what refresh_all reads.
  result<std::vector<model_pin>> model_pins() {
    if (!open_) return errc::invalid_argument;
    auto rows = db_.rows("SELECT model_id, has_structure, structure_model_id, repo_type, branch, commit_sha FROM models "
                         "ORDER BY position, model_id", {});
    if (!rows) return rows.error();
    std::vector<model_pin> out;
    out.reserve(rows->size());
    for (auto& r : *rows) {
      auto& pin = out.emplace_back();
      pin.model_id = r[0].value_or("");
      pin.has_structure = parse_u64(r[1]).value_or(0) != 0;
      if (!pin.has_structure) continue;
      pin.repo_id = r[2].value_or("");
      pin.type = parse_repo_type(r[3].value_or("model")).value_or(repo_type::model);
      pin.branch = r[4].value_or("main");
      pin.commit_sha = r[5].value_or("");
    }
    return out;
  }

  /// The models with a file path containing `pattern` (ASCII case-insensitive), each once, in
  /// catalog order: a search of the distinct paths' lower-cased forms (a scan, or PostgreSQL's
  /// trigram index; both sides folded the same way, so a case-sensitive LIKE is exact), then
  /// the files of the paths found, by index.
  result<std::vector<std::string>> models_with_path(std::string_view pattern) {
    if (!open_) return errc::invalid_argument;
    return snapshot([&] { return read_models_with_path(pattern); });
  }

  /// Ids of the models `q` matches, in catalog order (list_models, search_models, the io-type
  /// queries). No file is read.
  result<std::vector<std::string>> models_matching(const record_query& q) {
    if (!open_) return errc::invalid_argument;
    return snapshot([&] { return read_models_matching(q); });
  }

  /// Files whose LFS SHA-256 (64 lower-case hex) or git oid (40) is `digest`, in catalog order
  /// and, within a model, path order.
  result<std::vector<stored_path>> files_with_content(std::string_view digest) {
    if (!open_) return errc::invalid_argument;
    std::vector<stored_path> out;
    bool sha256 = is_lower_hex(digest, 64);
    if (!sha256 && !is_lower_hex(digest, 40)) return out;
    sql_value key{std::string(digest)};
    auto rows = db_.rows(std::string("SELECT f.model_id, m.position, p.path FROM") + files_with_paths +
                             " JOIN models m ON m.model_id = f.model_id WHERE f." + (sha256 ? "lfs_sha256" : "oid") + " = $1",
                         {&key, 1});
    if (!rows) return rows.error();
    std::vector<std::tuple<std::uint64_t, std::string, std::string>> hits;
    for (auto& r : *rows)
      if (r[0] && r[2]) hits.emplace_back(parse_u64(r[1]).value_or(0), std::move(*r[0]), std::move(*r[2]));
    std::sort(hits.begin(), hits.end());
    out.reserve(hits.size());
    for (auto& [position, id, path] : hits) out.push_back({std::move(id), std::move(path)});
    return out;
  }

  /// similarity_storage: the other models sharing a path or a content with `id`, in catalog
  /// order, with their file counts. Shared paths come through files_path, shared contents
  /// through the digest indexes (an LFS file's content is its SHA-256, another file's its oid),
  /// the file counts from the models rows.
  result<std::vector<model_overlap>> model_overlaps(std::string_view id) {
    if (!open_) return errc::invalid_argument;
    static const std::string sql =
        "SELECT o.model_id, m.position, SUM(o.shared_paths), SUM(o.shared_contents), m.file_count FROM ("
        "SELECT f.model_id, COUNT(*) AS shared_paths, 0 AS shared_contents FROM files f "
        "WHERE f.path_id IN (SELECT path_id FROM files WHERE model_id = $1) GROUP BY f.model_id "
        "UNION ALL SELECT f.model_id, 0, COUNT(DISTINCT f.lfs_sha256) FROM files f "
        "WHERE f.lfs_sha256 IN (SELECT lfs_sha256 FROM files WHERE model_id = $1) GROUP BY f.model_id "
        "UNION ALL SELECT f.model_id, 0, COUNT(DISTINCT f.oid) FROM files f WHERE f.lfs_sha256 IS NULL "
        "AND f.oid IN (SELECT oid FROM files WHERE model_id = $1 AND lfs_sha256 IS NULL) GROUP BY f.model_id"
        ") o JOIN models m ON m.model_id = o.model_id WHERE o.model_id <> $1 GROUP BY o.model_id, m.position, m.file_count "
        "ORDER BY m.position";
    sql_value key{std::string(id)};
    auto rows = snapshot([&] { return db_.rows(sql, {&key, 1}); });
    if (!rows) return rows.error();
    std::vector<model_overlap> out;
    out.reserve(rows->size());
    for (auto& r : *rows)
      if (r[0])
        out.push_back({std::move(*r[0]), static_cast<std::size_t>(parse_u64(r[4]).value_or(0)),
                       static_cast<std::size_t>(parse_u64(r[2]).value_or(0)), static_cast<std::size_t>(parse_u64(r[3]).value_or(0))});
    return out;
  }

  /// similarity_storage: each listed model's distinct contents, in the order of `ids`.
  result<std::vector<model_extent>> model_extents(std::span<const std::string> ids) {
    if (!open_) return errc::invalid_argument;
    std::unordered_map<std::string, model_extent> found;
    auto extents_of = [&](std::string_view condition, const sql_value& value) -> result<void> {
      auto rows = db_.rows("SELECT model_id, COUNT(DISTINCT COALESCE(lfs_sha256, oid)) FROM files WHERE model_id" +
                               std::string(condition) + " GROUP BY model_id",
                           {&value, 1});
      if (!rows) return rows.error();
      for (auto& r : *rows)
        if (r[0])
          found[std::move(*r[0])].contents = static_cast<std::size_t>(parse_u64(r[1]).value_or(0));
      return {};
    };
    auto read = snapshot([&]() -> result<void> {
      if (ids.empty()) return {};
      if (ids.size() <= Backend::dialect.point_lookups_up_to) {
        for (const auto& id : ids)
          if (auto ok = extents_of(" = $1", id); !ok) return ok;
        return {};
      }
      return extents_of(Backend::dialect.in_strings, list_param(ids));
    });
    if (!read) return read.error();
    std::vector<model_extent> out;
    out.reserve(ids.size());
    for (const auto& id : ids)
      if (auto it = found.find(id); it != found.end()) out.push_back(it->second);
      else out.emplace_back();
    return out;
  }

  /// get_stats() by aggregates: one row per distinct type, architecture and io list.
  result<manager_stats> stats() {
    if (!open_) return errc::invalid_argument;
    return snapshot([&] { return read_stats(); });
  }

  result<void> upsert(const model_metadata& m) { return upsert_many({&m, 1}); }

  result<void> upsert_many(std::span<const model_metadata> models) {
    if (!open_) return errc::invalid_argument;
    if (mode_ == open_mode::read_only) return refuse_write();
    if (models.empty()) return {};
    return transaction([&] { return write_checked(models); });
  }

  /// batch_writing_storage: every batch `produce` writes, in one transaction.
  result<void> upsert_batches(const std::function<result<void>(const batch_writer&)>& produce) {
    if (!open_) return errc::invalid_argument;
    if (mode_ == open_mode::read_only) return refuse_write();
    constexpr bool indexes_after_commit = Backend::dialect.indexes_built_after_load;
    bool bulk = false, chunked = false;
    std::size_t written = 0, files_since_commit = 0;
    auto loaded = transaction([&]() -> result<void> {
      auto any = db_.rows("SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM files LIMIT 1) f), "
                          "(SELECT COUNT(*) FROM (SELECT 1 FROM models LIMIT 1) m)", {});
      if (!any) return any.error();
      if (any->empty()) return corrupt("files and models counts");
      bulk = (*any)[0][0] == sql_value("0");  // a first import: the indexes are built after it
      chunked = bulk && (*any)[0][1] == sql_value("0") && bulk_commit_files_ > 0;
      if (bulk)
        for (auto [name, columns] : file_indexes)
          if (auto ok = db_.exec(std::string("DROP INDEX ") + name); !ok) return ok;
      if (chunked)
        if (auto ok = db_.exec(std::string("CREATE TABLE ") + unfinished_import_table + " (started " +
                               Backend::dialect.bigint_type + ")");
            !ok)
          return ok;
      batch_writer write = [&](std::span<const model_metadata> models) -> result<void> {
        written += models.size();
        if (auto ok = write_checked(models); !ok) return ok;
        for (const auto& m : models) files_since_commit += m.repository_structure ? m.repository_structure->files.size() : 0;
        if (!chunked || files_since_commit < bulk_commit_files_) return {};
        files_since_commit = 0;
        if (auto ok = db_.exec("COMMIT"); !ok) return ok;
        return db_.exec("BEGIN");
      };
      if (auto ok = produce(write); !ok) return ok;
      if (chunked)
        if (auto ok = db_.exec(std::string("DROP TABLE ") + unfinished_import_table); !ok) return ok;
      if (bulk && !indexes_after_commit)
        if (auto ok = build_file_indexes(); !ok) return ok;
      return indexes_after_commit ? result<void>{} : refresh_statistics(bulk, written);
    });
    if (!loaded) {
      if (chunked) {  // the chunks committed before the failure go too: the store was empty
        auto why = std::move(db_.detail());
        (void)clear_unfinished_import();  // if it fails, the next read-write open clears it
        db_.detail() = std::move(why);
      }
      return loaded;
    }
    if (!indexes_after_commit || !bulk) return loaded;
    if (auto ok = repair_file_indexes(); !ok) return ok;
    return refresh_statistics(bulk, written);
  }

  /// Where the dialect commits an import in chunks: files per commit (tests use small ones).
  void set_bulk_commit_files(std::size_t files) noexcept { bulk_commit_files_ = files; }
  /// read_batches' models per batch (dialect.read_batch_models; tests use small ones).
  void set_read_batch_models(std::size_t models) noexcept { read_batch_models_ = models == 0 ? 1 : models; }

  result<void> erase(std::string_view id) {
    if (!open_) return errc::invalid_argument;
    if (mode_ == open_mode::read_only) return refuse_write();
    return transaction([&]() -> result<void> {
      sql_value key{std::string(id)};
      if (auto ok = db_.run("DELETE FROM files WHERE model_id = $1", {&key, 1}); !ok) return ok;
      return db_.run("DELETE FROM models WHERE model_id = $1", {&key, 1});
    });
  }

  /// The schema version stored in the database (for tests and tools).
  result<int> schema_version() {
    auto v = db_.rows("SELECT MAX(version) FROM hfmm_schema", {});
    if (!v) return v.error();
    if (v->empty() || !(*v)[0][0]) return 0;
    return static_cast<int>(parse_u64((*v)[0][0]).value_or(0));
  }

private:
  result<manager_stats> read_stats() {
    manager_stats s;
    auto totals = db_.rows("SELECT COUNT(*), COUNT(huggingface_config), COUNT(inference_code_location), "
                           "COALESCE(SUM(has_structure), 0), COALESCE(SUM(file_count), 0), COALESCE(SUM(total_size), 0) "
                           "FROM models",
                           {});
    if (!totals) return totals.error();
    if (totals->empty()) return corrupt("models totals");
    const auto& t = totals->front();
    s.total_models = parse_u64(t[0]).value_or(0);
    s.models_with_hf_config = parse_u64(t[1]).value_or(0);
    s.models_with_inference_code = parse_u64(t[2]).value_or(0);
    s.models_with_repo_structure = parse_u64(t[3]).value_or(0);
    s.total_tracked_files = parse_u64(t[4]).value_or(0);
    s.total_tracked_bytes = parse_u64(t[5]).value_or(0);
    auto grouped = [&](std::string_view column, auto add) -> result<void> {
      auto rows = db_.rows("SELECT " + std::string(column) + ", COUNT(*) FROM models GROUP BY " + std::string(column), {});
      if (!rows) return rows.error();
      for (auto& r : *rows)
        if (auto ok = add(r[0], parse_u64(r[1]).value_or(0)); !ok) return ok;
      return {};
    };
    // Each distinct value read as a record's would be, so both modes count alike.
    auto read_as_field = [&](std::string_view key, const sql_value& v) {
      return read_record_columns(sql_value("stats"), {&key, 1}, {&v, 1});
    };
    auto ok = grouped("model_type", [&](const sql_value& v, std::size_t n) -> result<void> {
      auto m = read_as_field("model_type", v);
      if (!m) return m.error();
      s.models_by_type[std::string(to_string(m->model_type))] += n;
      return {};
    });
    if (ok) ok = grouped("architecture", [&](const sql_value& v, std::size_t n) -> result<void> {
      s.models_by_architecture[v.value_or("")] += n;
      return {};
    });
    for (auto [column, counts] : {std::pair{"inputs", &s.common_input_types}, std::pair{"outputs", &s.common_output_types}})
      if (ok) ok = grouped(column, [&, column = column, counts = counts](const sql_value& v, std::size_t n) -> result<void> {
        auto m = read_as_field(column, v);
        if (!m) return m.error();
        for (const auto& spec : std::string_view(column) == "inputs" ? m->inputs : m->outputs)
          (*counts)[std::string(to_string(spec.data_type))] += n;
        return {};
      });
    if (!ok) return ok.error();
    return s;
  }

  /// Ids of the models with a path containing `pattern`, in catalog order (models_with_path).
  result<std::vector<std::string>> read_models_with_path(std::string_view pattern) {
    auto needle = to_lower_ascii(pattern);
    sql_value like = like_substring(needle);
    auto paths = db_.rows("SELECT path_id, path FROM paths WHERE lower_path LIKE CAST($1 AS TEXT) ESCAPE '\\'", {&like, 1});
    if (!paths) return paths.error();
    std::vector<std::string> path_ids;
    for (auto& r : *paths)  // SQLite's LIKE also folds ASCII: harmless on folded text; the test is exact
      if (r[0] && r[1] && icontains(*r[1], needle) && parse_u64(r[0])) path_ids.push_back(std::move(*r[0]));
    std::vector<std::string> out;
    if (path_ids.empty()) return out;
    std::vector<std::pair<std::uint64_t, std::string>> hits;
    auto models_of = [&](std::string_view condition, const sql_value& value) -> result<void> {
      auto rows = db_.rows("SELECT DISTINCT f.model_id, m.position FROM files f JOIN models m ON m.model_id = f.model_id "
                           "WHERE f.path_id" + std::string(condition), {&value, 1});
      if (!rows) return rows.error();
      for (auto& r : *rows)
        if (r[0]) hits.emplace_back(parse_u64(r[1]).value_or(0), std::move(*r[0]));
      return {};
    };
    if (path_ids.size() <= Backend::dialect.point_lookups_up_to) {
      for (const auto& id : path_ids)
        if (auto ok = models_of(" = CAST($1 AS BIGINT)", id); !ok) return ok.error();
    } else if (auto ok = models_of(Backend::dialect.in_numbers, list_param(path_ids)); !ok) {
      return ok.error();
    }
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    out.reserve(hits.size());
    for (auto& h : hits) out.push_back(std::move(h.second));
    return out;
  }

  /// SQL narrows the models to a superset of the answer by what it can test on their text
  /// (architecture exactly; a tag, an io type or the search text as a substring of the stored
  /// text); record_query::matches decides on each candidate's fields, read without files.
  result<std::vector<std::string>> read_models_matching(const record_query& q) {
    // Only the columns the query tests are read: a list of everything reads ids alone (every
    // record column of 1 000 000 models is about half a gigabyte).
    std::vector<std::string_view> fields;
    if (q.filter.model_type) fields.push_back("model_type");
    if (q.filter.architecture) fields.push_back("architecture");
    if (q.input) fields.push_back("inputs");
    if (q.output) fields.push_back("outputs");
    if (!q.filter.tags.empty() || !q.text.empty()) fields.push_back("tags");
    if (!q.text.empty()) fields.insert(fields.end(), {"model_name", "description"});
    std::vector<sql_value> params;
    auto param = [&](std::string value) {
      params.emplace_back(std::move(value));
      return "CAST($" + std::to_string(params.size()) + " AS TEXT)";
    };
    // JSON text holds a string's bytes as they are unless they are escaped: '"', '\', controls.
    auto json_holds_as_is = [](std::string_view text) {
      return std::none_of(text.begin(), text.end(), [](char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; });
    };
    auto in_json = [&](std::string_view column, std::string quoted) {
      return "CAST(" + std::string(column) + " AS TEXT) LIKE " + param(like_substring(quoted)) + " ESCAPE '\\'";
    };
    std::vector<std::string> conditions;
    if (q.filter.architecture) conditions.push_back("architecture = " + param(*q.filter.architecture));
    for (const auto& tag : q.filter.tags)
      if (json_holds_as_is(tag)) conditions.push_back(in_json("tags", "\"" + tag + "\""));
    if (q.input) conditions.push_back(in_json("inputs", "\"" + std::string(to_string(*q.input)) + "\""));
    if (q.output) conditions.push_back(in_json("outputs", "\"" + std::string(to_string(*q.output)) + "\""));
    if (!q.text.empty() && json_holds_as_is(q.text)) {
      // lower() on both sides: PostgreSQL and DuckDB fold more than ASCII, alike on both.
      auto folded = [&](std::string column) {
        return "lower(" + column + ") LIKE lower(" + param(like_substring(q.text)) + ") ESCAPE '\\'";
      };
      conditions.push_back("(" + folded("model_name") + " OR " + folded("description") + " OR " +
                           folded("CAST(tags AS TEXT)") + ")");
    }
    std::string sql = "SELECT model_id";
    for (auto f : fields) sql.append(", ").append(f);
    sql += " FROM models";
    for (std::size_t i = 0; i < conditions.size(); ++i) sql.append(i ? " AND " : " WHERE ").append(conditions[i]);
    sql += " ORDER BY position, model_id";
    auto rows = db_.rows(sql, params);
    if (!rows) return rows.error();
    std::vector<std::string> out;
    auto folded_text = to_lower_ascii(q.text);
    for (auto& row : *rows) {
      if (fields.empty()) {  // no condition: every model
        if (row[0]) out.push_back(std::move(*row[0]));
        continue;
      }
      auto m = read_record_columns(row[0], fields, std::span(row).subspan(1));
      if (!m) return m.error();
      if (q.matches(*m, folded_text)) out.push_back(std::move(m->model_id));
    }
    return out;
  }

  /// A model from some of its record's columns (`keys`, the record's field keys, and their
  /// `values`), read as load reads a whole record; the other fields keep their defaults.
  result<model_metadata> read_record_columns(const sql_value& id, std::span<const std::string_view> keys,
                                             std::span<const sql_value> values) {
    boost::json::object record{{"model_id", id.value_or("")}};
    for (std::size_t i = 0; i < keys.size(); ++i)
      for (auto f : model_fields)
        if (f.key == keys[i])
          if (auto ok = put_field(record, f, values[i], "models", id); !ok) return ok.error();
    std::string why;
    auto m = read_model(record, &why);
    if (!m) return corrupt("model " + id.value_or("?") + ": " + why);
    return m;
  }

  result<std::vector<model_metadata>> read_models(const std::string& where, std::span<const sql_value> params) {
    auto models = db_.rows("SELECT " + models_column_list(false) + " FROM models" + where + " ORDER BY position, model_id", params);
    if (!models) return models.error();
    std::vector<model_metadata> out;
    if (models->empty()) return out;
    auto files = db_.rows("SELECT " + files_select_list() + " FROM" + files_with_paths + where, params);
    if (!files) return files.error();

    out.reserve(models->size());
    std::unordered_map<std::string, std::size_t> index;
    for (auto& row : *models) {
      auto m = model_from_row(row);
      if (!m) return m.error();
      index.emplace(m->model_id, out.size());
      out.push_back(std::move(*m));
    }
    for (auto& row : *files) {
      const auto& id = row[file_model_id];
      const auto& path = row[file_path];
      auto it = id ? index.find(*id) : index.end();
      if (it == index.end() || !out[it->second].repository_structure) continue;  // an orphan row
      auto& s = *out[it->second].repository_structure;
      auto size = parse_u64(row[file_size]);
      if (!path || !size || !row[file_oid]) return corrupt("files row of " + *id);
      file_entry e;
      e.size = *size;
      e.oid = *row[file_oid];
      if (const auto& sha256 = row[file_lfs_sha256]) {
        auto lsize = parse_u64(row[file_lfs_size]);
        auto psize = parse_u64(row[file_pointer_size]);
        e.lfs = lfs_info{*sha256, lsize.value_or(*size), static_cast<std::uint32_t>(psize.value_or(0))};
      }
      if (row[file_xet_hash]) e.xet_hash = *row[file_xet_hash];
      if (const auto& url = row[file_download_url]) {
        e.download_url = *url;
      } else {
        e.download_url = s.files.url_prefix();
        append_encoded_path(e.download_url, *path);
      }
      file_table_access::append(s.files, *path, e);
    }
    for (auto& m : out)
      if (m.repository_structure) file_table_access::finish(m.repository_structure->files);
    return out;
  }

  result<std::uint64_t> single_number(const std::string& sql, std::span<const sql_value> params) {
    if (!open_) return errc::invalid_argument;
    auto r = db_.rows(sql, params);
    if (!r) return r.error();
    if (r->empty() || r->front().empty()) return corrupt("the answer to " + sql);
    return parse_u64(r->front()[0]).value_or(0);
  }

  /// The $1 of an in_strings / in_numbers predicate: the values as the dialect lists them.
  template <class Range>
  static sql_value list_param(const Range& values) {
    if constexpr (Backend::dialect.array_lists) {
      std::string out = "{";
      for (const auto& v : values) {
        if (out.size() > 1) out += ',';
        out += '"';
        for (char c : std::string_view(v)) {
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
        out += '"';
      }
      return out + "}";
    } else {
      boost::json::array list;
      for (const auto& v : values) list.emplace_back(std::string_view(v));
      return boost::json::serialize(list);
    }
  }

  /// `text` as a LIKE pattern that matches it literally (the escape character is a backslash).
  /// A LIKE pattern (ESCAPE '\\') for "contains `text`".
  static std::string like_substring(std::string_view text) { return "%" + like_escaped(text) + "%"; }
  static std::string like_escaped(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
      if (c == '%' || c == '_' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }

  /// Marks a transaction open for its scope (an exception from `body` included).
  struct open_transaction {
    bool& flag;
    explicit open_transaction(bool& f) : flag(f) { flag = true; }
    open_transaction(const open_transaction&) = delete;
    open_transaction& operator=(const open_transaction&) = delete;
    ~open_transaction() { flag = false; }
  };

  template <class F>
  result<void> transaction(F body) {
    if (auto ok = db_.exec("BEGIN"); !ok) return ok;
    auto ok = [&] {
      open_transaction open(in_transaction_);
      return body();
    }();
    if (!ok) return roll_back(ok);
    if (auto c = db_.exec("COMMIT"); !c) return roll_back(c);
    return {};
  }

  /// Ends a failed transaction, keeping why it failed: the database may have ended it already
  /// (DuckDB does on running out of memory), and then ROLLBACK's own complaint ("no
  /// transaction is active") hid the cause.
  template <class Failed>
  Failed roll_back(Failed failed) {
    auto why = std::move(db_.detail());
    (void)db_.exec("ROLLBACK");
    db_.detail() = std::move(why);
    return failed;
  }

  /// Runs the reads of `body` on one snapshot (a read transaction): a model is never read half
  /// before and half after another writer's commit, nor a result from two states. Inside a
  /// write transaction, as part of it.
  template <class F>
  auto snapshot(F body) -> decltype(body()) {
    if (in_transaction_) return body();
    if (auto ok = db_.exec(Backend::dialect.begin_snapshot); !ok) return ok.error();
    auto out = [&] {
      open_transaction open(in_transaction_);
      return body();
    }();
    if (!out) return roll_back(std::move(out));
    (void)db_.exec("COMMIT");  // it only read: what it read stands either way
    return out;
  }

  error_code corrupt(const std::string& what) {
    db_.detail() = "unreadable " + what;
    return errc::storage_corrupt;
  }

  result<bool> table_exists(const char* name) {
    sql_value n{std::string(name)};
    auto r = db_.rows(Backend::dialect.table_exists, {&n, 1});
    if (!r) return {boost::system::in_place_error, r.error()};
    return !r->empty();
  }

  /// The models table's column definitions, in model_row's order (DuckDB's appender relies on it).
  static std::string models_table_columns() {
    std::string json = Backend::dialect.json_type, big = Backend::dialect.bigint_type;
    std::string text = "model_id " + std::string(Backend::dialect.identifier_text_type) + " PRIMARY KEY, position " + big + " NOT NULL";
    for (auto f : record_columns) {
      text.append(", ").append(f.key).append(f.kind == field_kind::json ? " " + json : std::string(" TEXT"));
      // as the Python Model Manager's table declares them
      if (f.key == "model_name" || f.key == "model_type" || f.key == "architecture") text += " NOT NULL";
    }
    for (std::size_t c = 0; c < structure_column_count; ++c) {
      text.append(", ").append(structure_columns[c]);
      if (c == has_structure) text += " " + big + " NOT NULL";
      else if (is_integer_column(structure_column(c))) text += " " + big;
      else if (is_json_column(structure_column(c))) text += " " + json;
      else text += " TEXT";
    }
    return text;
  }

  /// `identifier_type`: the type of the identifier columns (a migrated store keeps its models
  /// table's: a join of two collations cannot use the models key).
  static std::string files_table_columns(std::string_view identifier_type = Backend::dialect.identifier_text_type) {
    std::string text;
    for (auto c : file_columns) {
      text.append(text.empty() ? "" : ", ").append(c.name).append(" ").append(c.integer      ? Backend::dialect.bigint_type
                                                                              : c.identifier ? identifier_type
                                                                                             : "TEXT");
      if (c.required) text += " NOT NULL";
    }
    return text;
  }

  static std::string paths_table(std::string_view identifier_type = Backend::dialect.identifier_text_type) {
    return std::string(Backend::dialect.path_key_setup) + "CREATE TABLE paths (" + Backend::dialect.path_key + ", path " +
           std::string(identifier_type) + " NOT NULL UNIQUE, lower_path TEXT NOT NULL);";
  }

  /// The files table's indexes, name and columns: a bulk load into an empty table builds them
  /// once at the end, sorted, instead of row by row (the load deletes no file rows it would
  /// need files_model_path for, unless a catalog names a model twice).
  static constexpr std::pair<const char*, const char*> file_indexes[] = {{"files_model_path", Backend::dialect.model_files_index_columns},
                                                                         {"files_path", Backend::dialect.path_files_index_columns},
                                                                         {"files_lfs_sha256", "lfs_sha256"},
                                                                         {"files_oid", "oid"}};
  static std::string create_file_index(std::string_view name, std::string_view columns) {
    return std::string("CREATE INDEX ").append(name).append(" ON files (").append(columns).append(");");
  }
  /// An import's load into an empty store done, its files indexes (in the load's transaction).
  /// The dialect's settings for the builds are undone whether the builds succeed or not.
  result<void> build_file_indexes() {
    if (Backend::dialect.before_index_builds)
      if (auto ok = db_.exec(Backend::dialect.before_index_builds); !ok) return ok;
    result<void> built;
    for (auto [name, columns] : file_indexes)
      if (built = db_.exec(create_file_index(name, columns)); !built) break;
    if (!Backend::dialect.after_index_builds) return built;
    if (!built) {  // the build's message is the one to report
      auto why = std::move(db_.detail());
      (void)db_.exec(Backend::dialect.after_index_builds);
      db_.detail() = std::move(why);
      return built;
    }
    return db_.exec(Backend::dialect.after_index_builds);
  }
  static std::string files_indexes() {
    std::string sql;
    for (auto [name, columns] : file_indexes) sql += create_file_index(name, columns);
    return sql;
  }

  /// Each files index missing (an import killed after its load committed) is built, and one
  /// an earlier hfmm made on other columns (files_path was on path_id alone; DuckDB's
  /// files_model_path on model_id, path_id) is made again; each in a transaction of its own
  /// (one index in memory at a time). At 1 000 000 models an index takes tens of seconds, once.
  result<void> repair_file_indexes() {
    auto present = db_.rows(Backend::dialect.files_index_definitions, {});
    if (!present) return present.error();
    for (auto [name, columns] : file_indexes) {
      const sql_row* found = index_row(*present, name);
      bool missing = !found;
      if (found && (*found)[1] && index_columns(*(*found)[1]) != index_columns(columns)) {
        // Dropped in a transaction of its own: DuckDB 1.4 aborts committing a drop and a create
        // of one name together, and PostgreSQL readers wait only for the drop, not the build.
        if (auto ok = transaction([&, name = name] { return db_.exec(std::string("DROP INDEX ") + name); }); !ok) return ok;
        missing = true;
      }
      if (missing)
        if (auto ok = transaction([&, name = name, columns = columns] { return db_.exec(create_file_index(name, columns)); }); !ok)
          return ok;
    }
    return {};
  }

  /// The row of index `name` among the dialect's files_index_definitions, or nullptr.
  static const sql_row* index_row(const sql_rows& definitions, const char* name) {
    auto found = std::find_if(definitions.begin(), definitions.end(), [&](const sql_row& r) { return r[0] == sql_value(name); });
    return found == definitions.end() ? nullptr : &*found;
  }

  /// An index's columns as written in a CREATE INDEX text or a column list, for comparison:
  /// `… ON files (a, "b")` and `a, b` both give `a,b`.
  static std::string index_columns(std::string_view text) {
    if (auto close = text.rfind(')'); close != std::string_view::npos) {
      auto open = text.rfind('(', close);
      text = open == std::string_view::npos ? std::string_view{} : text.substr(open + 1, close - open - 1);
    }
    std::string columns;
    for (char c : text)
      if (c != ' ' && c != '"') columns += c;
    return columns;
  }

  static constexpr const char* unfinished_import_table = "hfmm_import_unfinished";

  /// Whether the store holds the committed part of an import that did not finish (only where
  /// the dialect commits imports in chunks). Such an import dropped the files indexes before
  /// its first commit and builds them after its last: with all of them there, the mark cannot
  /// be, and the catalog is not asked for it (DuckDB: 0.5 ms for the indexes, 7 ms for a table).
  result<bool> import_unfinished() {
    if constexpr (Backend::dialect.bulk_commit_files == 0) {
      return false;
    } else {
      auto present = db_.rows(Backend::dialect.files_index_definitions, {});
      if (!present) return {boost::system::in_place_error, present.error()};
      if (std::all_of(std::begin(file_indexes), std::end(file_indexes), [&](const auto& index) { return index_row(*present, index.first); }))
        return false;
      return table_exists(unfinished_import_table);
    }
  }

  /// Empties a store holding the committed part of an import that did not finish (it began on
  /// an empty store), removes the mark, and puts back the indexes the import dropped.
  result<void> clear_unfinished_import() {
    auto cleared = transaction([&] {
      return db_.exec(std::string("DELETE FROM files; DELETE FROM models; DELETE FROM paths; DROP TABLE IF EXISTS ") +
                      unfinished_import_table);
    });
    return cleared ? repair_file_indexes() : cleared;
  }

  /// Statistics after an import, not after refresh's batches of 100 (ANALYZE reads a sample
  /// of every table each time); the database's own upkeep covers small writes.
  result<void> refresh_statistics(bool bulk, std::size_t written) {
    bool large = bulk || written >= 10'000;
    return large && Backend::dialect.refresh_statistics ? db_.exec(Backend::dialect.refresh_statistics) : result<void>{};
  }

  result<void> create_schema() {
    std::string big = Backend::dialect.bigint_type;
    std::string sql =
        "CREATE TABLE hfmm_schema (version " + big + " NOT NULL);"
        "CREATE TABLE models (" + models_table_columns() + ");" + paths_table() +
        "CREATE TABLE files (" + files_table_columns() + ");" + files_indexes() +
        "CREATE INDEX models_model_type ON models (model_type);"
        "CREATE INDEX models_architecture ON models (architecture);"
        "CREATE INDEX models_position ON models (position);"
        "INSERT INTO hfmm_schema VALUES (" + std::to_string(sql_schema_version) + ");";
    return db_.exec(sql);
  }

  /// The dialect's path_search_index, made at a read-write open where it is missing and the
  /// database can make it; where it cannot (no extension, no permission), the store goes on
  /// without it and the next read-write open tries again. One process makes it (a large paths
  /// table takes a while, once); the others go on without waiting.
  result<void> ensure_path_search_index() {
    if constexpr (Backend::dialect.path_search_index == nullptr) {
      return {};
    } else {
      auto exists = db_.rows(Backend::dialect.path_search_index_exists, {});
      if (!exists) return exists.error();
      if (!exists->empty()) return {};
      auto made = transaction([&]() -> result<void> {
        auto claimed = db_.rows(Backend::dialect.path_search_index_claim, {});
        if (!claimed) return claimed.error();
        if (claimed->empty() || (*claimed)[0][0] != sql_value("t")) return {};  // another process is making it
        return db_.exec(Backend::dialect.path_search_index);
      });
      if (!made) db_.detail().clear();
      return {};
    }
  }

  error_code newer_schema(int version) {
    db_.detail() = "the database has hfmm schema version " + std::to_string(version) + "; this hfmm knows " +
                   std::to_string(sql_schema_version);
    return errc::schema_newer;
  }

  error_code refuse_write() {
    db_.detail() = "the store was opened read-only";
    return errc::storage_read_only;
  }

  /// A read-only open changes nothing: the schema must be this hfmm's already. (The Python
  /// Model Manager's table is imported by a read-write open only.)
  /// The version is read first and the database's catalog asked only where that fails: DuckDB
  /// answers any question about which tables exist in about 7 ms, a plain query in 1 ms.
  result<void> check_schema() {
    auto v = schema_version();
    if (!v) {  // no hfmm_schema table, or a database that cannot answer
      auto failed = std::move(db_.detail());
      auto has_schema = table_exists("hfmm_schema");
      if (!has_schema) return has_schema.error();
      if (*has_schema) {
        db_.detail() = std::move(failed);
        return v.error();
      }
      db_.detail() = "no hfmm catalog in it yet: a write (hfmm add, import) creates one";
      return errc::storage_read_only;
    }
    if (*v > sql_schema_version) return newer_schema(*v);
    if (*v < sql_schema_version) {
      db_.detail() = "it has hfmm schema version " + std::to_string(*v) + ", this hfmm reads " +
                     std::to_string(sql_schema_version) + ": open it once read-write (any write command) to upgrade it";
      return errc::storage_read_only;
    }
    auto unfinished = import_unfinished();
    if (!unfinished) return unfinished.error();
    if (*unfinished) {
      db_.detail() = "an import into it was stopped midway and left part of a catalog: open it once read-write (any "
                     "write command) to empty it, then import again";
      return errc::storage_read_only;
    }
    return {};
  }

  result<void> migrate() {
    if (Backend::dialect.migrate_lock) {
      if (auto ok = db_.exec(Backend::dialect.migrate_lock); !ok) return ok;
    }
    auto ok = migrate_locked();
    if (Backend::dialect.migrate_unlock) (void)db_.exec(Backend::dialect.migrate_unlock);
    if (!ok) return ok;
    // Outside the migration lock: the other processes opening the store do not wait for it.
    return ensure_path_search_index();
  }

  result<void> migrate_locked() {
    auto has_schema = table_exists("hfmm_schema");
    if (!has_schema) return has_schema.error();
    if (!*has_schema) {
      if (auto ok = transaction([&] { return create_schema(); }); !ok) return ok;
    } else {
      auto v = schema_version();
      if (!v) return v.error();
      if (*v > sql_schema_version) return newer_schema(*v);
      if (*v == 1) {  // version 1 had no history and no unknown-key column
        std::string json = Backend::dialect.json_type;
        auto ok = transaction([&] {
          return db_.exec("ALTER TABLE models ADD COLUMN previous " + json + ";ALTER TABLE models ADD COLUMN extra " +
                          json + ";UPDATE hfmm_schema SET version = 2;");
        });
        if (!ok) return ok;
      }
      if (*v <= 2) {  // version 2 had no model info
        auto ok = transaction([&] {
          return db_.exec(std::string("ALTER TABLE models ADD COLUMN model_info ") + Backend::dialect.json_type +
                          ";UPDATE hfmm_schema SET version = 3;");
        });
        if (!ok) return ok;
      }
      if (*v <= 3) {  // version 3 held each file's path as text
        if (auto ok = transaction([&] { return move_paths_to_their_table(); }); !ok) return ok;
      }
      if (*v <= 4) {  // version 4 kept no file count and bytes in the models rows
        if (auto ok = transaction([&] { return add_structure_totals(); }); !ok) return ok;
      }
    }
    auto unfinished = import_unfinished();
    if (!unfinished) return unfinished.error();
    if (*unfinished)  // an import killed midway: the store was empty before it
      if (auto cleared = clear_unfinished_import(); !cleared) return cleared;
    if (auto repaired = repair_file_indexes(); !repaired) return repaired;  // under the lock: one process does it
    auto python = table_exists("model_metadata");
    if (!python) return python.error();
    if (*python) return import_python_table();
    return {};
  }

  /// Version 3 to 4: the distinct paths into their table, the files table rebuilt with path ids
  /// (same rows, same indexes), in the caller's transaction.
  result<void> move_paths_to_their_table() {
    if (auto ok = db_.exec(paths_table("TEXT")); !ok) return ok;
    auto distinct = db_.rows("SELECT DISTINCT path FROM files", {});
    if (!distinct) return distinct.error();
    std::vector<path_row> paths;
    paths.reserve(distinct->size());
    for (auto& r : *distinct)
      if (r[0]) paths.push_back({r[0], to_lower_ascii(*r[0])});
    if (auto ok = db_.insert_paths(paths); !ok) return ok;
    return db_.exec("CREATE TABLE files_v4 (" + files_table_columns("TEXT") + ");INSERT INTO files_v4 SELECT " + files_select_list("p.path_id") +
                    " FROM files f JOIN paths p ON p.path = f.path;DROP TABLE files;ALTER TABLE files_v4 RENAME TO files;" +
                    files_indexes() + "UPDATE hfmm_schema SET version = 4;");
  }

  /// Version 4 to 5: each model's file count and bytes into its row, in the caller's
  /// transaction (one pass over the files: at 1 000 000 models, once).
  result<void> add_structure_totals() {
    std::string big = Backend::dialect.bigint_type;
    return db_.exec("ALTER TABLE models ADD COLUMN file_count " + big + ";ALTER TABLE models ADD COLUMN total_size " + big +
                    ";UPDATE models SET file_count = 0, total_size = 0 WHERE has_structure <> 0;"
                    "UPDATE models SET file_count = t.files, total_size = t.bytes FROM (SELECT model_id, COUNT(*) AS files, "
                    "SUM(size) AS bytes FROM files GROUP BY model_id) t WHERE t.model_id = models.model_id;"
                    "UPDATE hfmm_schema SET version = 5;");
  }

  /// Each file row's path replaced with its paths.path_id; the paths not stored yet are added.
  result<void> assign_path_ids(std::vector<file_row>& files) {
    std::unordered_map<std::string, std::string> ids;  // path → path_id (text)
    for (const auto& f : files) ids.try_emplace(*f[file_path]);
    // Looked up in chunks: a batch may carry millions of distinct paths.
    auto look_up = [&](const std::vector<const std::string*>& wanted) -> result<void> {
      constexpr std::size_t chunk = 20000;
      for (std::size_t first = 0; first < wanted.size(); first += chunk) {
        std::vector<std::string_view> list;
        for (std::size_t i = first; i < wanted.size() && i < first + chunk; ++i) list.push_back(*wanted[i]);
        sql_value param = list_param(list);
        auto rows = db_.rows(std::string("SELECT path_id, path FROM paths WHERE path") + Backend::dialect.in_strings, {&param, 1});
        if (!rows) return rows.error();
        for (auto& r : *rows)
          if (r[0] && r[1])
            if (auto it = ids.find(*r[1]); it != ids.end()) it->second = std::move(*r[0]);
      }
      return {};
    };
    std::vector<const std::string*> wanted;
    wanted.reserve(ids.size());
    for (const auto& [path, id] : ids) wanted.push_back(&path);
    if (auto ok = look_up(wanted); !ok) return ok;
    std::vector<path_row> missing;
    wanted.clear();
    for (const auto& [path, id] : ids)
      if (id.empty()) {
        missing.push_back({path, to_lower_ascii(path)});
        wanted.push_back(&path);
      }
    if (!missing.empty()) {
      if (auto ok = db_.insert_paths(missing); !ok) return ok;
      if (auto ok = look_up(wanted); !ok) return ok;
    }
    for (auto& f : files) {
      const auto& id = ids.at(*f[file_path]);
      if (id.empty()) return corrupt("paths: " + *f[file_path] + " was stored but cannot be found");
      f[file_path] = id;
    }
    return {};
  }

  /// The Python Model Manager's DuckDB table: rows new to us, or newer than ours.
  result<void> import_python_table() {
    // Its columns are the record's fields by name (JSON, TIMESTAMP and VARCHAR), then our updated_at.
    std::string select = "SELECT ";
    for (auto f : model_fields) select.append("CAST(p.").append(f.key).append(" AS TEXT), ");
    auto rows = db_.rows(select + "m.updated_at FROM model_metadata p LEFT JOIN models m ON m.model_id = p.model_id", {});
    if (!rows) return rows.error();
    constexpr std::size_t ours = std::size(model_fields);
    std::vector<model_metadata> fresh;
    for (auto& row : *rows) {
      boost::json::object record;
      for (std::size_t i = 0; i < std::size(model_fields); ++i) {
        auto ok = put_field(record, model_fields[i], row[i], "model_metadata", row[0]);
        if (!ok) return ok.error();
        if (!row[i]) record[model_fields[i].key] = nullptr;
      }
      std::string why;
      auto m = read_model(record, &why);
      if (!m) return corrupt("model_metadata row: " + why);
      if (row[ours]) {  // we have it: import only when the Python side is newer
        auto our_time = parse_timestamp(*row[ours]);
        if (our_time && m->updated_at <= *our_time) continue;
      }
      fresh.push_back(std::move(*m));
    }
    if (fresh.empty()) return {};
    return transaction([&] { return write_models(fresh); });
  }

  /// A column's value into the record under the field's name (JSON text parsed); NULL: absent.
  result<void> put_field(boost::json::object& record, const model_field& f, const sql_value& v, std::string_view table,
                         const sql_value& id) {
    if (!v) return {};
    if (f.kind == field_kind::text) {
      record[f.key] = *v;
      return {};
    }
    error_code ec;
    auto parsed = boost::json::parse(*v, ec);
    if (ec) return corrupt(std::string(table) + "." + std::string(f.key) + " of " + id.value_or("?"));
    record[f.key] = std::move(parsed);
    return {};
  }

  result<model_metadata> model_from_row(sql_row& row) {
    boost::json::object record;
    if (row[0]) record["model_id"] = *row[0];
    for (std::size_t i = 0; i < record_columns.size(); ++i)
      if (auto ok = put_field(record, record_columns[i], row[1 + i], "models", row[0]); !ok) return ok.error();
    if (const auto& extra_text = row[column_of(record_extra)]) {  // unknown keys of the record
      error_code ec;
      auto extra = boost::json::parse(*extra_text, ec);
      if (ec || !extra.is_object()) return corrupt("models.extra of " + row[0].value_or("?"));
      for (auto& kv : extra.get_object()) record[kv.key()] = kv.value();
    }
    std::string why;
    auto m = read_model(record, &why);
    if (!m) return corrupt("model " + row[0].value_or("?") + ": " + why);
    auto column = [&](structure_column c) -> const sql_value& { return row[column_of(c)]; };
    if (parse_u64(column(has_structure)).value_or(0) != 0) {
      repo_structure s;
      s.model_id = column(structure_model_id).value_or("");
      s.repo_type = parse_repo_type(column(structure_repo_type).value_or("model")).value_or(repo_type::model);
      s.branch = column(structure_branch).value_or("main");
      s.commit_sha = column(structure_commit_sha).value_or("");
      if (const auto& t = column(structure_fetched_at))
        if (auto at = parse_timestamp(*t)) s.fetched_at = *at;
      file_table_access::set_prefix_empty_table(s.files, column(structure_url_prefix).value_or(""));
      if (const auto& previous = column(structure_previous)) {
        error_code ec;
        auto prev = boost::json::parse(*previous, ec);
        auto structure = ec ? result<repo_structure>(errc::invalid_argument) : boost::json::try_value_to<repo_structure>(prev);
        if (!structure) return corrupt("models.previous of " + m->model_id);
        s.previous = std::make_shared<const repo_structure>(std::move(*structure));
      }
      if (const auto& info_text = column(structure_model_info)) {
        error_code ec;
        auto info = boost::json::parse(*info_text, ec);
        std::string why;
        if (!ec) s.model_info = read_model_info(info, &why);
        if (ec || !s.model_info) return corrupt("models.model_info of " + m->model_id + (why.empty() ? "" : ": " + why));
      }
      m->repository_structure = std::move(s);
    }
    return m;
  }

  /// A batch checked as the store can hold it, then written (in the caller's transaction).
  result<void> write_checked(std::span<const model_metadata> models) {
    if (models.empty()) return {};
    for (const auto& m : models)
      if (auto ok = check_writable(m, &db_.detail()); !ok) return ok;
    return write_models(models);
  }

  /// One batch: model rows (new ones numbered after the last position), then the files of
  /// every model in the batch replaced with two statements — set-wise, not model by model.
  result<void> write_models(std::span<const model_metadata> models) {
    auto last = db_.rows("SELECT COALESCE(MAX(position), 0) FROM models", {});
    if (!last) return last.error();
    auto position = parse_u64(last->empty() ? sql_value() : (*last)[0][0]).value_or(0);
    // A batch may name a model twice: the last version is stored, at the place of the first
    // (as a sequence of upserts would leave it).
    std::unordered_map<std::string_view, std::size_t> latest;
    for (std::size_t i = 0; i < models.size(); ++i) latest[models[i].model_id] = i;
    std::vector<std::string_view> ids;
    std::vector<model_row> rows;
    std::vector<file_row> files;
    for (std::size_t i = 0; i < models.size(); ++i) {
      auto it = latest.find(models[i].model_id);
      if (it == latest.end()) continue;  // stored at its first occurrence
      const auto& m = models[it->second];
      latest.erase(it);
      rows.push_back(make_model_row(m, ++position));
      ids.emplace_back(m.model_id);
      append_file_rows(m, files);
    }
    if (ids.size() == 1) {  // the common add_model: a point delete the index answers
      if (auto ok = db_.upsert_models(rows); !ok) return ok;
      sql_value id{std::string(ids[0])};
      if (auto ok = db_.run("DELETE FROM files WHERE model_id = $1", {&id, 1}); !ok) return ok;
    } else {
      // Only a model stored before has files to replace: asked of the models table (its key),
      // not of files, which an import fills without an index on model_id.
      sql_value id_list = list_param(ids);
      auto stored = db_.rows(std::string("SELECT model_id FROM models WHERE model_id") + Backend::dialect.in_strings, {&id_list, 1});
      if (!stored) return stored.error();
      if (auto ok = db_.upsert_models(rows); !ok) return ok;
      if (!stored->empty()) {
        std::vector<std::string_view> replaced;
        for (const auto& r : *stored)
          if (r[0]) replaced.emplace_back(*r[0]);
        sql_value replaced_list = list_param(replaced);
        if (auto ok = db_.run(std::string("DELETE FROM files WHERE model_id") + Backend::dialect.in_strings, {&replaced_list, 1});
            !ok)
          return ok;
      }
    }
    if (files.empty()) return {};
    if (auto ok = assign_path_ids(files); !ok) return ok;
    return db_.insert_files(files);
  }

  static model_row make_model_row(const model_metadata& m, std::uint64_t position) {
    boost::json::object record;
    write_model_record(record, m);  // the store layout, so that columns and JSON agree
    model_row row;
    row[0] = m.model_id;
    row[1] = std::to_string(position);
    for (std::size_t i = 0; i < record_columns.size(); ++i) row[2 + i] = text_of(record.at(record_columns[i].key));
    auto column = [&](structure_column c) -> sql_value& { return row[1 + column_of(c)]; };
    column(has_structure) = std::string(m.repository_structure ? "1" : "0");
    if (const auto& s = m.repository_structure) {
      column(structure_model_id) = s->model_id;
      column(structure_repo_type) = std::string(to_string(s->repo_type));
      column(structure_branch) = s->branch;
      column(structure_commit_sha) = s->commit_sha;
      column(structure_fetched_at) = format_timestamp(s->fetched_at);
      column(structure_url_prefix) = s->files.url_prefix();
      if (s->previous) column(structure_previous) = boost::json::serialize(boost::json::value_from(*s->previous));
      if (s->model_info) column(structure_model_info) = boost::json::serialize(write_model_info(*s->model_info));
      column(structure_file_count) = std::to_string(s->files.size());
      column(structure_total_size) = std::to_string(s->files.total_size());
    }
    boost::json::object extra;
    for (const auto& kv : m.extra)
      if (!is_model_field(kv.key())) extra[kv.key()] = kv.value();
    if (!extra.empty()) column(record_extra) = boost::json::serialize(extra);
    return row;
  }

  static void append_file_rows(const model_metadata& m, std::vector<file_row>& rows) {
    const auto& s = m.repository_structure;
    if (!s) return;
    std::string standard;
    for (auto f : s->files) {
      auto lfs = f.lfs();
      auto url = f.download_url();
      standard = s->files.url_prefix();
      append_encoded_path(standard, f.path());
      auto& row = rows.emplace_back();
      row[file_model_id] = m.model_id;
      row[file_path] = std::string(f.path());
      row[file_size] = std::to_string(f.size());
      row[file_oid] = f.oid();
      if (lfs) {
        row[file_lfs_sha256] = lfs->sha256;
        row[file_lfs_size] = std::to_string(lfs->size);
        row[file_pointer_size] = std::to_string(lfs->pointer_size);
      }
      row[file_xet_hash] = f.xet_hash();
      if (s->files.url_prefix().empty() || url != standard) row[file_download_url] = std::move(url);
    }
  }

  Backend db_;
  open_mode mode_;
  bool open_ = false;
  std::size_t bulk_commit_files_ = Backend::dialect.bulk_commit_files;
  std::size_t read_batch_models_ = Backend::dialect.read_batch_models;
  bool in_transaction_ = false;  ///< a write transaction or a read snapshot is open
};

}  // namespace hfmm::detail
