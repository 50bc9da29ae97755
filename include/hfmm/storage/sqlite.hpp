#pragma once
// sqlite_storage(path[, mode]): the catalog in an embedded SQLite database, in the normalized
// layout of detail/sql_catalog.hpp. WAL journal, synchronous=FULL: upserts are durable
// when they return; each upsert_many is one transaction. One writer at a time: open() takes
// an flock on "<path>.lock" (storage_locked otherwise); open_mode::read_only readers take
// none and read the last commit while a writer works. A file that is not a database gives
// storage_corrupt and is left untouched. Needs libsqlite3 (CMake target hfmm::sqlite).
// Not thread-safe: one thread at a time.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/posix_file.hpp>
#include <hfmm/detail/sql_catalog.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <memory>

namespace hfmm {

namespace detail {

class sqlite_backend {
public:
  using target_type = std::filesystem::path;
  /// A writer's page cache of 64 MB (SQLite's default is 2 MB): an import into a store that
  /// has models inserts into its indexes at random and otherwise re-reads and spills pages
  /// through the WAL; 20 000 models (480 000 files) imported in 5.7 s instead of 11.5 s. Pages
  /// are cached only as they are touched, so one-shot commands stay small.
  static constexpr const char* writer_cache_size = "PRAGMA cache_size=-65536";
  static constexpr sql_dialect dialect{
      .json_type = "TEXT",
      .bigint_type = "INTEGER",
      .table_exists = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
      .in_strings = " IN (SELECT value FROM json_each($1))",
      .in_numbers = " IN (SELECT value FROM json_each($1))",
      .path_key = "path_id INTEGER PRIMARY KEY",
      .path_key_setup = "",
      .column_exists = "SELECT name FROM pragma_table_info($1) WHERE name = $2",
      .files_index_definitions = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'files'",
      // An import's index builds sort 24 M rows per index at 1 000 000 models. With the
      // writer's 64 MB page cache they took 9.8 s at 100 000 models (2.4 M files), with
      // SQLite's default 2 MB 6.1 s, and with a helper thread for the sorter 5.3 s. The
      // helper thread stays allowed afterwards: only sorts that large start it.
      .before_index_builds = "PRAGMA cache_size=-2000; PRAGMA threads=2",
      .after_index_builds = writer_cache_size};

  explicit sqlite_backend(target_type path) : path_(std::move(path)) {}

  std::string& detail() noexcept { return detail_; }
  const std::string& detail() const noexcept { return detail_; }

  /// read_only takes no lock and creates nothing: WAL lets it read the last commit while a
  /// writer works.
  result<void> connect(open_mode mode) {
    detail_.clear();
    bool writer = mode == open_mode::read_write;
    if (writer) {
      auto lock = lock_store(path_, detail_);
      if (!lock) return lock.error();
      lock_ = std::move(*lock);
    } else if (!std::filesystem::exists(path_)) {
      return no_such_database(path_, detail_);
    }
    sqlite3* db = nullptr;
    int flags = (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path_.c_str(), &db, flags, nullptr);
    db_.reset(db);  // closed by db_ even when the open failed
    if (rc != SQLITE_OK) {
      auto e = fail();
      disconnect();
      return e;
    }
    sqlite3_busy_timeout(db, 5000);
    // Reading the schema first: a file that is not a database fails here, untouched.
    if (auto ok = exec("PRAGMA schema_version"); !ok) {
      disconnect();
      return ok;
    }
    if (auto ok = exec(writer ? std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; ") + writer_cache_size
                              : std::string("PRAGMA foreign_keys=ON"));
        !ok) {
      disconnect();
      return ok;
    }
    return {};
  }

  void disconnect() {
    statements_.clear();  // before the connection they belong to
    db_.reset();
    lock_.reset();
  }

  result<void> exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      auto e = fail();
      sqlite3_free(message);
      return e;
    }
    return {};
  }

  result<void> run(std::string_view sql, std::span<const sql_value> params) {
    auto stmt = prepare(sql, params);
    if (!stmt) return stmt.error();
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(*stmt);
    if (rc != SQLITE_DONE) return fail();
    return {};
  }

  result<sql_rows> rows(std::string_view sql, std::span<const sql_value> params) {
    auto stmt = prepare(sql, params);
    if (!stmt) return stmt.error();
    sql_rows out;
    int rc;
    int columns = sqlite3_column_count(*stmt);
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
      sql_row row(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        if (sqlite3_column_type(*stmt, c) == SQLITE_NULL) continue;
        auto* text = reinterpret_cast<const char*>(sqlite3_column_text(*stmt, c));
        row[static_cast<std::size_t>(c)] = std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(*stmt, c)));
      }
      out.push_back(std::move(row));
    }
    sqlite3_reset(*stmt);
    if (rc != SQLITE_DONE) return fail();
    return out;
  }

  result<void> upsert_models(const std::vector<model_row>& rows) { return run_each(*this, models_upsert_statement(), rows); }

  result<void> insert_files(const std::vector<file_row>& rows) {
    static const std::string sql = [] {
      std::string text = "INSERT INTO files VALUES (";
      for (std::size_t i = 1; i <= file_column_count; ++i) text += (i > 1 ? ", $" : "$") + std::to_string(i);
      return text + ")";
    }();
    return run_each(*this, sql, rows);
  }

  result<void> insert_paths(const std::vector<path_row>& rows) { return run_each(*this, paths_insert_statement, rows); }

private:
  result<sqlite3_stmt*> prepare(std::string_view sql, std::span<const sql_value> params) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                             nullptr) != SQLITE_OK)
        return fail();
      it = statements_.emplace(std::string(sql), statement_ptr(stmt)).first;
    }
    auto* stmt = it->second.get();
    sqlite3_clear_bindings(stmt);
    for (std::size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1);
      // SQLITE_STATIC: the caller's values outlive the statement's steps (run and rows step
      // it before returning), so SQLite need not copy every column of every row.
      int rc = params[i] ? sqlite3_bind_text(stmt, index, params[i]->data(), static_cast<int>(params[i]->size()), SQLITE_STATIC)
                         : sqlite3_bind_null(stmt, index);
      if (rc != SQLITE_OK) return fail();
    }
    return stmt;
  }

  error_code fail() {
    int code = db_ ? sqlite3_extended_errcode(db_.get()) : SQLITE_CANTOPEN;
    detail_ = path_.string() + ": " + (db_ ? sqlite3_errmsg(db_.get()) : "cannot open");
    switch (code & 0xFF) {
      case SQLITE_NOTADB:
      case SQLITE_CORRUPT: return errc::storage_corrupt;
      case SQLITE_BUSY:
      case SQLITE_LOCKED: return errc::storage_locked;
      default: return errc::storage_io;
    }
  }

  struct close_db {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  struct finalize_statement {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  using statement_ptr = std::unique_ptr<sqlite3_stmt, finalize_statement>;

  std::filesystem::path path_;
  unique_fd lock_;
  std::unique_ptr<sqlite3, close_db> db_;                            // declared before the statements:
  std::map<std::string, statement_ptr, std::less<>> statements_;    // they are destroyed first
  std::string detail_;
};

}  // namespace detail

/// The catalog in SQLite. Errors: storage_locked, storage_corrupt, storage_io, schema_newer.
class sqlite_storage : public detail::sql_catalog<detail::sqlite_backend> {
public:
  /// read_only: no writer lock, nothing created or migrated; never blocked by a writer and
  /// sees its last commit; writes fail with storage_read_only.
  explicit sqlite_storage(std::filesystem::path path, open_mode mode = open_mode::read_write)
      : sql_catalog(std::move(path), mode) {}
};

static_assert(storage<sqlite_storage>);

}  // namespace hfmm
