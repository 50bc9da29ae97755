#pragma once
// The normalized SQL layout shared by the SQLite, DuckDB and PostgreSQL stores (DESIGN §4.2),
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
//   std::string& detail()                      the backend's last error message
//
// Models: one row each, the Python Model Manager's columns plus position (first-insert
// order), the structure's scalar fields, `previous` (one level of history, JSON) and `extra`
// (unknown record keys, JSON). Files: one row each; download_url NULL when it is the standard
// URL (models.url_prefix + encoded path), '' when the entry had none. Versions: 1 (older
// hfmm, without `previous` and `extra`) is upgraded in place; a newer one is refused
// (schema_newer). The Python Model Manager's own table `model_metadata`, when present, is
// imported on open (rows that are new or newer than ours); it is never modified.

#include <hfmm/detail/time.hpp>
#include <hfmm/json.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace hfmm::detail {

using sql_value = std::optional<std::string>;
using sql_row = std::vector<sql_value>;
using sql_rows = std::vector<sql_row>;

struct sql_dialect {
  const char* json_type;    ///< JSON column type
  const char* bigint_type;  ///< 64-bit integers
  const char* table_exists; ///< a query with $1 = table name, returning a row when it exists
  const char* delete_files_of;  ///< $1 = a JSON array of model ids
  const char* column_exists;///< $1 = table, $2 = column
  const char* migrate_lock = nullptr;    ///< serializes schema changes between processes (shared stores)
  const char* migrate_unlock = nullptr;
};

/// One file row, ready to insert: model_id, path, size, oid, lfs_sha256, lfs_size,
/// pointer_size, xet_hash, download_url.
using file_row = std::array<sql_value, 9>;

/// One models row, in column order (model_id, position, ..., previous, extra).
using model_row = std::array<sql_value, 27>;

inline constexpr const char* models_columns =
    "model_id, position, model_name, model_type, architecture, inputs, outputs, huggingface_config, "
    "inference_code_location, supported_backends, hardware_requirements, performance_metrics, tags, source_url, "
    "license, description, created_at, updated_at, has_structure, structure_model_id, repo_type, branch, commit_sha, "
    "fetched_at, url_prefix, previous, extra";

/// An upsert keeps the first-insert position: every column but model_id and position.
inline constexpr const char* models_on_conflict =
    " ON CONFLICT (model_id) DO UPDATE SET model_name = excluded.model_name, model_type = excluded.model_type, "
    "architecture = excluded.architecture, inputs = excluded.inputs, outputs = excluded.outputs, "
    "huggingface_config = excluded.huggingface_config, inference_code_location = excluded.inference_code_location, "
    "supported_backends = excluded.supported_backends, hardware_requirements = excluded.hardware_requirements, "
    "performance_metrics = excluded.performance_metrics, tags = excluded.tags, source_url = excluded.source_url, "
    "license = excluded.license, description = excluded.description, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, has_structure = excluded.has_structure, "
    "structure_model_id = excluded.structure_model_id, repo_type = excluded.repo_type, branch = excluded.branch, "
    "commit_sha = excluded.commit_sha, fetched_at = excluded.fetched_at, url_prefix = excluded.url_prefix, "
    "previous = excluded.previous, extra = excluded.extra";

/// The row-at-a-time upsert (SQLite and PostgreSQL run it per row; DuckDB stages big batches).
inline const std::string& models_insert_statement() {
  static const std::string sql = [] {
    std::string text = std::string("INSERT INTO models (") + models_columns + ") VALUES (";
    for (int i = 1; i <= 27; ++i) text += (i > 1 ? ", $" : "$") + std::to_string(i);
    return text + ")";
  }();
  return sql;
}

inline const std::string& models_upsert_statement() {
  static const std::string sql = models_insert_statement() + models_on_conflict;
  return sql;
}

/// The update half of an upsert, for a backend that pays more for ON CONFLICT than for two
/// statements: every column but model_id and position, by key. Its parameters are a models row
/// without its position ($1 model_id, then the columns after position).
inline const std::string& models_update_statement() {
  static const std::string sql = [] {
    std::string text = "UPDATE models SET ";
    std::string_view columns = models_columns;
    int parameter = 1;
    for (std::size_t start = 0; start < columns.size();) {
      auto end = std::min(columns.find(", ", start), columns.size());
      auto column = columns.substr(start, end - start);
      start = end + 2;
      if (column == "model_id" || column == "position") continue;  // the key; the first-insert order
      if (parameter > 1) text += ", ";
      ++parameter;
      text += std::string(column) + " = $" + std::to_string(parameter);
    }
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

inline constexpr int sql_schema_version = 2;

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
  explicit sql_catalog(typename Backend::target_type target) : db_(std::move(target)) {}

  const std::string& error_detail() const noexcept { return db_.detail(); }
  Backend& backend() noexcept { return db_; }

  result<void> open() {
    if (open_) return {};
    if (auto ok = db_.connect(); !ok) return ok;
    if (auto ok = migrate(); !ok) {
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
    auto models = db_.rows(
        "SELECT model_id, model_name, model_type, architecture, inputs, outputs, huggingface_config, "
        "inference_code_location, supported_backends, hardware_requirements, performance_metrics, tags, source_url, "
        "license, description, created_at, updated_at, has_structure, structure_model_id, repo_type, branch, "
        "commit_sha, fetched_at, url_prefix, previous, extra FROM models ORDER BY position, model_id",
        {});
    if (!models) return models.error();
    auto files = db_.rows(
        "SELECT model_id, path, size, oid, lfs_sha256, lfs_size, pointer_size, xet_hash, download_url FROM files", {});
    if (!files) return files.error();

    std::vector<model_metadata> out;
    out.reserve(models->size());
    std::unordered_map<std::string, std::size_t> index;
    for (auto& row : *models) {
      auto m = model_from_row(row);
      if (!m) return m.error();
      index.emplace(m->model_id, out.size());
      out.push_back(std::move(*m));
    }
    for (auto& row : *files) {
      auto it = row[0] ? index.find(*row[0]) : index.end();
      if (it == index.end() || !out[it->second].repository_structure) continue;  // an orphan row
      auto& s = *out[it->second].repository_structure;
      auto size = parse_u64(row[2]);
      if (!row[1] || !size || !row[3]) return corrupt("files row of " + *row[0]);
      file_entry e{.size = *size, .oid = *row[3]};
      if (row[4]) {
        auto lsize = parse_u64(row[5]);
        auto psize = parse_u64(row[6]);
        e.lfs = lfs_info{*row[4], lsize.value_or(*size), static_cast<std::uint32_t>(psize.value_or(0))};
      }
      if (row[7]) e.xet_hash = *row[7];
      if (row[8]) {
        e.download_url = *row[8];
      } else {
        e.download_url = s.files.url_prefix();
        append_encoded_path(e.download_url, *row[1]);
      }
      file_table_access::append(s.files, *row[1], e);
    }
    for (auto& m : out)
      if (m.repository_structure) file_table_access::finish(m.repository_structure->files);
    return out;
  }

  result<void> upsert(const model_metadata& m) { return upsert_many({&m, 1}); }

  result<void> upsert_many(std::span<const model_metadata> models) {
    if (!open_) return errc::invalid_argument;
    if (models.empty()) return {};
    for (const auto& m : models)
      if (auto ok = check_writable(m, &db_.detail()); !ok) return ok;
    return transaction([&] { return write_models(models); });
  }

  result<void> erase(std::string_view id) {
    if (!open_) return errc::invalid_argument;
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
  template <class F>
  result<void> transaction(F body) {
    if (auto ok = db_.exec("BEGIN"); !ok) return ok;
    auto ok = body();
    if (!ok) {
      (void)db_.exec("ROLLBACK");
      return ok;
    }
    if (auto c = db_.exec("COMMIT"); !c) {
      (void)db_.exec("ROLLBACK");
      return c;
    }
    return {};
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

  result<void> create_schema() {
    std::string json = Backend::dialect.json_type, big = Backend::dialect.bigint_type;
    std::string sql =
        "CREATE TABLE hfmm_schema (version " + big + " NOT NULL);"
        "CREATE TABLE models (model_id TEXT PRIMARY KEY, position " + big + " NOT NULL, model_name TEXT NOT NULL, "
        "model_type TEXT NOT NULL, architecture TEXT NOT NULL, inputs " + json + ", outputs " + json +
        ", huggingface_config " + json + ", inference_code_location TEXT, supported_backends " + json +
        ", hardware_requirements " + json + ", performance_metrics " + json + ", tags " + json +
        ", source_url TEXT, license TEXT, description TEXT, created_at TEXT, updated_at TEXT, "
        "has_structure " + big + " NOT NULL, structure_model_id TEXT, repo_type TEXT, branch TEXT, commit_sha TEXT, "
        "fetched_at TEXT, url_prefix TEXT, previous " + json + ", extra " + json + ");"
        "CREATE TABLE files (model_id TEXT NOT NULL, path TEXT NOT NULL, size " + big + " NOT NULL, oid TEXT NOT NULL, "
        "lfs_sha256 TEXT, lfs_size " + big + ", pointer_size " + big + ", xet_hash TEXT, download_url TEXT);"
        "CREATE INDEX files_model_path ON files (model_id, path);"
        "CREATE INDEX files_path ON files (path);"
        "CREATE INDEX files_lfs_sha256 ON files (lfs_sha256);"
        "CREATE INDEX files_oid ON files (oid);"
        "CREATE INDEX models_model_type ON models (model_type);"
        "CREATE INDEX models_architecture ON models (architecture);"
        "CREATE INDEX models_position ON models (position);"
        "INSERT INTO hfmm_schema VALUES (" + std::to_string(sql_schema_version) + ");";
    return db_.exec(sql);
  }

  result<void> migrate() {
    if (Backend::dialect.migrate_lock) {
      if (auto ok = db_.exec(Backend::dialect.migrate_lock); !ok) return ok;
    }
    auto ok = migrate_locked();
    if (Backend::dialect.migrate_unlock) (void)db_.exec(Backend::dialect.migrate_unlock);
    return ok;
  }

  result<void> migrate_locked() {
    auto has_schema = table_exists("hfmm_schema");
    if (!has_schema) return has_schema.error();
    if (!*has_schema) {
      if (auto ok = transaction([&] { return create_schema(); }); !ok) return ok;
    } else {
      auto v = schema_version();
      if (!v) return v.error();
      if (*v > sql_schema_version) {
        db_.detail() = "the database has hfmm schema version " + std::to_string(*v) + "; this hfmm knows " +
                       std::to_string(sql_schema_version);
        return errc::schema_newer;
      }
      if (*v == 1) {  // version 1 had no history and no unknown-key column
        std::string json = Backend::dialect.json_type;
        auto ok = transaction([&] {
          return db_.exec("ALTER TABLE models ADD COLUMN previous " + json + ";ALTER TABLE models ADD COLUMN extra " +
                          json + ";UPDATE hfmm_schema SET version = 2;");
        });
        if (!ok) return ok;
      }
    }
    auto python = table_exists("model_metadata");
    if (!python) return python.error();
    if (*python) return import_python_table();
    return {};
  }

  /// The Python Model Manager's DuckDB table: rows new to us, or newer than ours.
  result<void> import_python_table() {
    auto rows = db_.rows(
        "SELECT p.model_id, p.model_name, p.model_type, p.architecture, CAST(p.inputs AS TEXT), "
        "CAST(p.outputs AS TEXT), CAST(p.huggingface_config AS TEXT), p.inference_code_location, "
        "CAST(p.supported_backends AS TEXT), CAST(p.hardware_requirements AS TEXT), "
        "CAST(p.performance_metrics AS TEXT), CAST(p.tags AS TEXT), p.source_url, p.license, p.description, "
        "CAST(p.repository_structure AS TEXT), CAST(p.created_at AS TEXT), CAST(p.updated_at AS TEXT), m.updated_at "
        "FROM model_metadata p LEFT JOIN models m ON m.model_id = p.model_id",
        {});
    if (!rows) return rows.error();
    static constexpr const char* keys[] = {"model_id", "model_name", "model_type", "architecture", "inputs", "outputs",
                                           "huggingface_config", "inference_code_location", "supported_backends",
                                           "hardware_requirements", "performance_metrics", "tags", "source_url",
                                           "license", "description", "repository_structure", "created_at", "updated_at"};
    std::vector<model_metadata> fresh;
    for (auto& row : *rows) {
      boost::json::object record;
      for (std::size_t i = 0; i < 18; ++i) {
        const auto& v = row[i];
        bool json_column = i == 4 || i == 5 || i == 6 || i == 8 || i == 9 || i == 10 || i == 11 || i == 15;
        if (!v) record[keys[i]] = nullptr;
        else if (json_column) {
          error_code ec;
          auto parsed = boost::json::parse(*v, ec);
          if (ec) return corrupt("model_metadata." + std::string(keys[i]) + " of " + row[0].value_or("?"));
          record[keys[i]] = std::move(parsed);
        } else {
          record[keys[i]] = *v;
        }
      }
      std::string why;
      auto m = read_model(record, &why);
      if (!m) return corrupt("model_metadata row: " + why);
      if (row[18]) {  // we have it: import only when the Python side is newer
        auto ours = parse_timestamp(*row[18]);
        if (ours && m->updated_at <= *ours) continue;
      }
      fresh.push_back(std::move(*m));
    }
    if (fresh.empty()) return {};
    return transaction([&] { return write_models(fresh); });
  }

  result<model_metadata> model_from_row(sql_row& row) {
    static constexpr const char* keys[] = {"model_id", "model_name", "model_type", "architecture", "inputs", "outputs",
                                           "huggingface_config", "inference_code_location", "supported_backends",
                                           "hardware_requirements", "performance_metrics", "tags", "source_url",
                                           "license", "description", "created_at", "updated_at"};
    boost::json::object record;
    for (std::size_t i = 0; i < 17; ++i) {
      const auto& v = row[i];
      bool json_column = i == 4 || i == 5 || i == 6 || i == 8 || i == 9 || i == 10 || i == 11;
      if (!v) continue;
      if (json_column) {
        error_code ec;
        auto parsed = boost::json::parse(*v, ec);
        if (ec) return corrupt("models." + std::string(keys[i]) + " of " + row[0].value_or("?"));
        record[keys[i]] = std::move(parsed);
      } else {
        record[keys[i]] = *v;
      }
    }
    if (row[25]) {  // extra: unknown keys of the record
      error_code ec;
      auto extra = boost::json::parse(*row[25], ec);
      if (ec || !extra.is_object()) return corrupt("models.extra of " + row[0].value_or("?"));
      for (auto& kv : extra.get_object()) record[kv.key()] = kv.value();
    }
    std::string why;
    auto m = read_model(record, &why);
    if (!m) return corrupt("model " + row[0].value_or("?") + ": " + why);
    if (parse_u64(row[17]).value_or(0) != 0) {
      repo_structure s;
      s.model_id = row[18].value_or("");
      s.repo_type = parse_repo_type(row[19].value_or("model")).value_or(repo_type::model);
      s.branch = row[20].value_or("main");
      s.commit_sha = row[21].value_or("");
      if (row[22])
        if (auto t = parse_timestamp(*row[22])) s.fetched_at = *t;
      file_table_access::set_prefix_empty_table(s.files, row[23].value_or(""));
      if (row[24]) {
        error_code ec;
        auto prev = boost::json::parse(*row[24], ec);
        auto structure = ec ? result<repo_structure>(errc::invalid_argument) : boost::json::try_value_to<repo_structure>(prev);
        if (!structure) return corrupt("models.previous of " + m->model_id);
        s.previous = std::make_shared<const repo_structure>(std::move(*structure));
      }
      m->repository_structure = std::move(s);
    }
    return m;
  }

  /// One batch: model rows (new ones numbered after the last position), then the files of
  /// every model in the batch replaced with two statements — set-wise, not model by model.
  result<void> write_models(std::span<const model_metadata> models) {
    auto last = db_.rows("SELECT COALESCE(MAX(position), 0) FROM models", {});
    if (!last) return last.error();
    auto position = parse_u64(last->empty() ? sql_value() : (*last)[0][0]).value_or(0);
    std::unordered_map<std::string_view, std::size_t> latest;  // a batch may name a model twice
    for (std::size_t i = 0; i < models.size(); ++i) latest[models[i].model_id] = i;
    boost::json::array ids;
    std::vector<model_row> rows;
    std::vector<file_row> files;
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (latest[models[i].model_id] != i) continue;
      rows.push_back(make_model_row(models[i], ++position));
      ids.emplace_back(models[i].model_id);
      append_file_rows(models[i], files);
    }
    if (auto ok = db_.upsert_models(rows); !ok) return ok;
    if (ids.size() == 1) {  // the common add_model: a point delete the index answers
      sql_value id{std::string(ids[0].get_string())};
      if (auto ok = db_.run("DELETE FROM files WHERE model_id = $1", {&id, 1}); !ok) return ok;
    } else {
      sql_value id_list = boost::json::serialize(ids);
      if (auto ok = db_.run(Backend::dialect.delete_files_of, {&id_list, 1}); !ok) return ok;
    }
    if (files.empty()) return {};
    return db_.insert_files(files);
  }

  static model_row make_model_row(const model_metadata& m, std::uint64_t position) {
    boost::json::object record;
    write_model_record(record, m);  // the store layout, so that columns and JSON agree
    auto col = [&](const char* key) { return text_of(record.at(key)); };
    boost::json::object extra;
    for (const auto& kv : m.extra)
      if (!is_model_field(kv.key())) extra[kv.key()] = kv.value();
    const auto& s = m.repository_structure;
    sql_value previous;
    if (s && s->previous) previous = boost::json::serialize(boost::json::value_from(*s->previous));
    return {m.model_id, std::to_string(position), col("model_name"), col("model_type"), col("architecture"),
            col("inputs"), col("outputs"), col("huggingface_config"), col("inference_code_location"),
            col("supported_backends"), col("hardware_requirements"), col("performance_metrics"), col("tags"),
            col("source_url"), col("license"), col("description"), col("created_at"), col("updated_at"),
            std::string(s ? "1" : "0"), s ? sql_value(s->model_id) : std::nullopt,
            s ? sql_value(std::string(to_string(s->repo_type))) : std::nullopt, s ? sql_value(s->branch) : std::nullopt,
            s ? sql_value(s->commit_sha) : std::nullopt, s ? sql_value(format_timestamp(s->fetched_at)) : std::nullopt,
            s ? sql_value(s->files.url_prefix()) : std::nullopt, previous,
            extra.empty() ? sql_value() : sql_value(boost::json::serialize(extra))};
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
      rows.push_back({m.model_id, std::string(f.path()), std::to_string(f.size()), f.oid(),
                      lfs ? sql_value(lfs->sha256) : std::nullopt, lfs ? sql_value(std::to_string(lfs->size)) : std::nullopt,
                      lfs ? sql_value(std::to_string(lfs->pointer_size)) : std::nullopt, f.xet_hash(),
                      !s->files.url_prefix().empty() && url == standard ? std::nullopt : sql_value(url)});
    }
  }

  Backend db_;
  bool open_ = false;
};

}  // namespace hfmm::detail
