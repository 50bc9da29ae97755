#pragma once
// duckdb_storage(path): the catalog in a DuckDB database — the Python Model Manager's
// database engine — in the normalized layout of detail/sql_catalog.hpp. On
// open, the Python Model Manager's own table `model_metadata` (if the file has one) is
// imported, "DataType.X" spellings included; it is left as it was. Files go in through the
// Appender. One writer at a time (an flock on "<path>.lock"; DuckDB also locks the file
// against other processes). Extensions are never downloaded (autoinstall_known_extensions
// is off; JSON is built in). Needs DuckDB's C API (CMake target hfmm::duckdb; the library is
// fetched by scripts/fetch-duckdb). Not thread-safe: one thread at a time.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/posix_file.hpp>
#include <hfmm/detail/sql_catalog.hpp>

#include <duckdb.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <type_traits>

namespace hfmm {

namespace detail {

class duckdb_backend {
public:
  using target_type = std::filesystem::path;
  static constexpr sql_dialect dialect{
      .json_type = "JSON",
      .bigint_type = "BIGINT",
      .table_exists = "SELECT table_name FROM information_schema.tables WHERE table_name = $1",
      .in_strings = " IN (SELECT unnest(from_json($1, '[\"VARCHAR\"]')))",
      .in_numbers = " IN (SELECT unnest(from_json($1, '[\"BIGINT\"]')))",
      .path_key = "path_id BIGINT PRIMARY KEY DEFAULT nextval('paths_path_id')",
      .path_key_setup = "CREATE SEQUENCE paths_path_id;",
      .column_exists = "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
      .model_files_index_columns = "model_id",
      .path_files_index_columns = "path_id",
      .point_lookups_up_to = 16,
      .files_index_definitions = "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'files'",
      .indexes_built_after_load = true,
      .bulk_commit_files = 2'000'000,
      .read_batch_models = 10'000};

  explicit duckdb_backend(target_type path) : path_(std::move(path)) {}

  std::string& detail() noexcept { return detail_; }
  const std::string& detail() const noexcept { return detail_; }

  result<void> connect(open_mode mode = open_mode::read_write) {
    detail_.clear();
    // Writers take the store's lock; readers open DuckDB read-only, which several processes may
    // do at once (DuckDB's own file lock keeps them from a writer), and which neither replays
    // nor checkpoints the WAL on close.
    if (mode == open_mode::read_write) {
      auto lock = lock_store(path_, detail_);
      if (!lock) return lock.error();
      lock_ = std::move(*lock);
    } else if (!std::filesystem::exists(path_)) {
      return no_such_database(path_, detail_);
    }
    duckdb_config config = nullptr;
    duckdb_create_config(&config);
    duckdb_set_config(config, "autoinstall_known_extensions", "false");
    if (mode == open_mode::read_only) {
      duckdb_set_config(config, "access_mode", "READ_ONLY");
      // Point questions need no thread pool: starting it cost 14 ms of a 71 ms one-shot show.
      duckdb_set_config(config, "threads", "1");
    }
    // A new database is written in the v1.2 storage format (DuckDB 1.2 and later read it).
    // The default, v0.10's, rewrites every ART index into its deprecated layout at each
    // checkpoint, so adding one model cost time in proportion to the catalog (a 20 000-model
    // add: 0.33-0.47 s, against 0.25-0.29 s). Existing databases keep their format.
    duckdb_set_config(config, "storage_compatibility_version", "v1.2.0");
    char* error = nullptr;
    duckdb_database db = nullptr;
    auto state = duckdb_open_ext(path_.c_str(), &db, config, &error);
    duckdb_destroy_config(&config);
    if (state != DuckDBSuccess) {
      std::string message = error ? error : "cannot open";
      duckdb_free(error);
      detail_ = path_.string() + ": " + message;
      lock_.reset();
      if (message.find("lock") != std::string::npos) return errc::storage_locked;
      if (message.find("not a valid DuckDB") != std::string::npos || message.find("Corrupt") != std::string::npos ||
          message.find("corrupt") != std::string::npos || message.find("checksum") != std::string::npos ||
          message.find("Serialization") != std::string::npos)
        return errc::storage_corrupt;
      return errc::storage_io;
    }
    db_.reset(db);
    duckdb_connection conn = nullptr;
    if (duckdb_connect(db, &conn) != DuckDBSuccess) {
      detail_ = path_.string() + ": cannot connect";
      disconnect();
      return errc::storage_io;
    }
    conn_.reset(conn);
    return {};
  }

  void disconnect() {
    // the connection, then the database
    conn_.reset();
    db_.reset();
    lock_.reset();
  }

  result<void> exec(const std::string& sql) {
    duckdb_result r;
    bool ok = duckdb_query(conn_.get(), sql.c_str(), &r) == DuckDBSuccess;
    if (!ok) detail_ = path_.string() + ": " + (duckdb_result_error(&r) ? duckdb_result_error(&r) : "query failed");
    duckdb_destroy_result(&r);
    if (!ok) return errc::storage_io;
    return {};
  }

  result<void> run(std::string_view sql, std::span<const sql_value> params) {
    duckdb_result r;
    if (auto ok = execute(sql, params, r); !ok) return ok;
    duckdb_destroy_result(&r);
    return {};
  }

  result<sql_rows> rows(std::string_view sql, std::span<const sql_value> params) {
    duckdb_result r;
    if (auto ok = execute(sql, params, r); !ok) return ok.error();
    sql_rows out;
    auto n = duckdb_row_count(&r), columns = duckdb_column_count(&r);
    out.reserve(n);
    for (idx_t row = 0; row < n; ++row) {
      sql_row values(columns);
      for (idx_t c = 0; c < columns; ++c) {
        if (duckdb_value_is_null(&r, c, row)) continue;
        char* text = duckdb_value_varchar(&r, c, row);
        values[c] = std::string(text ? text : "");
        duckdb_free(text);
      }
      out.push_back(std::move(values));
    }
    duckdb_destroy_result(&r);
    return out;
  }

  /// DuckDB pays per statement: big batches go through the Appender into a temporary stage,
  /// then into models with one INSERT ... SELECT ... ON CONFLICT. A row-at-a-time ON CONFLICT
  /// costs ~7 ms more than a plain INSERT on a 10 000-model catalog (9.6 vs 1.9 ms, measured),
  /// so a small batch updates each row by key and inserts it only when nothing was updated.
  result<void> upsert_models(const std::vector<model_row>& rows) {
    if (rows.empty()) return {};
    if (rows.size() <= 16) {  // the stage costs more
      for (const auto& row : rows) {
        std::array<sql_value, std::tuple_size_v<model_row> - 1> keyed;  // the row without its position
        keyed[0] = row[0];
        std::copy(row.begin() + 2, row.end(), keyed.begin() + 1);
        duckdb_result r;
        if (auto ok = execute(models_update_statement(), keyed, r); !ok) return ok;
        auto updated = duckdb_rows_changed(&r);
        duckdb_destroy_result(&r);
        if (updated == 0)
          if (auto ok = run(models_insert_statement(), row); !ok) return ok;
      }
      return {};
    }
    if (auto ok = exec("CREATE TEMP TABLE IF NOT EXISTS models_stage AS SELECT * FROM models WHERE false; "
                       "DELETE FROM models_stage");
        !ok)
      return ok;
    if (auto ok = append("temp", "models_stage", rows, is_integer_model_column); !ok) return ok;
    return exec("INSERT INTO models (" + models_columns() + ") SELECT " + models_columns() + " FROM models_stage" +
                models_on_conflict());
  }

  result<void> insert_files(const std::vector<file_row>& rows) {
    return append(nullptr, "files", rows, [](std::size_t c) { return file_columns[c].integer; });
  }

  /// As upsert_models: a few rows one statement each, many through a staged Appender.
  result<void> insert_paths(const std::vector<path_row>& rows) {
    if (rows.size() <= 16) return run_each(*this, paths_insert_statement, rows);
    if (auto ok = exec("CREATE TEMP TABLE IF NOT EXISTS paths_stage (path VARCHAR, lower_path VARCHAR); DELETE FROM paths_stage");
        !ok)
      return ok;
    if (auto ok = append("temp", "paths_stage", rows, [](std::size_t) { return false; }); !ok) return ok;
    return exec("INSERT INTO paths (path, lower_path) SELECT path, lower_path FROM paths_stage ON CONFLICT (path) DO NOTHING");
  }

private:
  /// Appends rows to `table`; the columns for which `is_integer(column)` holds are BIGINT.
  template <class Row, class IsInteger>
  result<void> append(const char* catalog, const char* table, const std::vector<Row>& rows, IsInteger is_integer) {
    duckdb_appender appender = nullptr;
    if (duckdb_appender_create_ext(conn_.get(), catalog, nullptr, table, &appender) != DuckDBSuccess) {
      detail_ = path_.string() + ": " + (appender ? duckdb_appender_error(appender) : "cannot append");
      duckdb_appender_destroy(&appender);
      return errc::storage_io;
    }
    bool ok = true;
    for (const auto& r : rows) {
      for (std::size_t c = 0; c < r.size() && ok; ++c) {
        if (!r[c]) ok = duckdb_append_null(appender) == DuckDBSuccess;
        else if (is_integer(c))
          ok = duckdb_append_int64(appender, static_cast<int64_t>(parse_u64(r[c]).value_or(0))) == DuckDBSuccess;
        else ok = duckdb_append_varchar_length(appender, r[c]->data(), r[c]->size()) == DuckDBSuccess;
      }
      if (!ok || duckdb_appender_end_row(appender) != DuckDBSuccess) {
        ok = false;
        break;
      }
    }
    if (ok) ok = duckdb_appender_close(appender) == DuckDBSuccess;
    if (!ok) detail_ = path_.string() + ": " + (duckdb_appender_error(appender) ? duckdb_appender_error(appender) : "append failed");
    duckdb_appender_destroy(&appender);
    if (!ok) return errc::storage_io;
    return {};
  }

  /// Prepared afresh for each execution: DuckDB 1.4 folds table statistics into a prepared
  /// plan and does not rebind it after writes (duckdb/duckdb#23704, fixed after 1.4.4), so a
  /// cached `SELECT COUNT(*)` kept its old answer and a cached UPDATE by key missed rows
  /// added after it was prepared. Preparing costs tens of microseconds; stale answers cost
  /// the catalog.
  result<void> execute(std::string_view sql, std::span<const sql_value> params, duckdb_result& out) {
    duckdb_prepared_statement prepared = nullptr;
    std::string text(sql);
    if (duckdb_prepare(conn_.get(), text.c_str(), &prepared) != DuckDBSuccess) {
      detail_ = path_.string() + ": " + (duckdb_prepare_error(prepared) ? duckdb_prepare_error(prepared) : "prepare failed");
      duckdb_destroy_prepare(&prepared);
      return errc::storage_io;
    }
    statement_ptr owner(prepared);
    auto* stmt = owner.get();
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto state = params[i] ? duckdb_bind_varchar_length(stmt, i + 1, params[i]->data(), params[i]->size())
                             : duckdb_bind_null(stmt, i + 1);
      if (state != DuckDBSuccess) {
        detail_ = path_.string() + ": cannot bind parameter " + std::to_string(i + 1);
        return errc::storage_io;
      }
    }
    if (duckdb_execute_prepared(stmt, &out) != DuckDBSuccess) {
      detail_ = path_.string() + ": " + (duckdb_result_error(&out) ? duckdb_result_error(&out) : "query failed");
      duckdb_destroy_result(&out);
      return errc::storage_io;
    }
    return {};
  }

  struct close_database {
    void operator()(duckdb_database db) const noexcept { duckdb_close(&db); }
  };
  struct close_connection {
    void operator()(duckdb_connection c) const noexcept { duckdb_disconnect(&c); }
  };
  struct destroy_statement {
    void operator()(duckdb_prepared_statement s) const noexcept { duckdb_destroy_prepare(&s); }
  };
  using statement_ptr = std::unique_ptr<std::remove_pointer_t<duckdb_prepared_statement>, destroy_statement>;

  std::filesystem::path path_;
  unique_fd lock_;
  // Destroyed in reverse: connection, database.
  std::unique_ptr<std::remove_pointer_t<duckdb_database>, close_database> db_;
  std::unique_ptr<std::remove_pointer_t<duckdb_connection>, close_connection> conn_;
  std::string detail_;
};

}  // namespace detail

/// The catalog in DuckDB. Errors: storage_locked, storage_corrupt, storage_io, schema_newer.
class duckdb_storage : public detail::sql_catalog<detail::duckdb_backend> {
public:
  explicit duckdb_storage(std::filesystem::path path, open_mode mode = open_mode::read_write)
      : sql_catalog(std::move(path), mode) {}
};

static_assert(storage<duckdb_storage>);

}  // namespace hfmm
