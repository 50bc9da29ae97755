#pragma once
// Where each storage lives during a test, and how to damage it: store_place<S>.
#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>
#ifdef HFMM_HAVE_GZIP
#include <hfmm/storage/gzip_codec.hpp>
#endif
#ifdef HFMM_HAVE_ZSTD
#include <hfmm/storage/zstd_codec.hpp>
#endif
#ifdef HFMM_HAVE_SQLITE
#include <hfmm/storage/sqlite.hpp>
#endif
#ifdef HFMM_HAVE_DUCKDB
#include <hfmm/storage/duckdb.hpp>
#endif
#ifdef HFMM_HAVE_POSTGRES
#include <hfmm/storage/postgres.hpp>
#endif

#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "../support/skip.hpp"

namespace hfmm_test {

template <class S>
struct store_place;

template <>
struct store_place<hfmm::memory_storage> {
  bool available() const { return true; }
  hfmm::memory_storage make() const { return {}; }
  bool make_newer() { return false; }
};

/// Stores kept in one file under a scratch directory.
template <class S>
struct file_place {
  scratch_dir dir;
  std::filesystem::path path;
  explicit file_place(std::string name) : path(dir / name) {}
  bool available() const { return true; }
  S make() const { return S(path); }
  std::string bytes() const { return slurp(path); }
  /// Overwrites the store with junk of the right size class; returns the bytes written.
  std::string corrupt() {
    std::string junk = "this is not a catalog \x01\x02\x03";
    for (int i = 0; i < 8; ++i) junk += junk;
    spit(path, junk);
    return junk;
  }
};

template <class Codec>
struct store_place<hfmm::basic_json_file_storage<Codec>> : file_place<hfmm::basic_json_file_storage<Codec>> {
  store_place() : file_place<hfmm::basic_json_file_storage<Codec>>("catalog" + std::string(Codec::suffix)) {}
  bool make_newer() {
    spit(std::filesystem::path(this->path) += ".journal", "{\"hfmm_journal\":3}\n");
    return true;
  }
};

/// SQL stores: the schema version is a row we can raise.
template <class S>
bool raise_schema_version(S storage) {
  REQUIRE(storage.open());
  REQUIRE(storage.backend().exec("UPDATE hfmm_schema SET version = 99"));
  REQUIRE(storage.close());
  return true;
}

/// Rewrites an open SQL store in the layout of schema version 4, as hfmm wrote it before the
/// models rows held their file count and bytes. (DuckDB alters no table an index depends on.)
template <class S>
void downgrade_to_schema_4(S& storage) {
  const std::pair<const char*, const char*> indexes[] = {
      {"models_model_type", "model_type"}, {"models_architecture", "architecture"}, {"models_position", "position"}};
  std::string sql;
  for (auto [name, column] : indexes) sql.append("DROP INDEX ").append(name).append(";");
  sql += "ALTER TABLE models DROP COLUMN file_count; ALTER TABLE models DROP COLUMN total_size;";
  for (auto [name, column] : indexes) sql.append("CREATE INDEX ").append(name).append(" ON models (").append(column).append(");");
  sql += "UPDATE hfmm_schema SET version = 4;";
  REQUIRE(storage.backend().exec(sql));
  REQUIRE(storage.schema_version().value() == 4);
}

/// Rewrites an open SQL store in the layout of schema version 3, as hfmm wrote it before the
/// paths table (the models table as in version 4): files hold their path as text.
template <class S>
void downgrade_to_schema_3(S& storage) {
  downgrade_to_schema_4(storage);
  using backend = std::remove_cvref_t<decltype(storage.backend())>;
  std::string big = backend::dialect.bigint_type;
  std::string sql =
      "CREATE TABLE files_v3 (model_id TEXT NOT NULL, path TEXT NOT NULL, size " + big + " NOT NULL, oid TEXT NOT NULL, "
      "lfs_sha256 TEXT, lfs_size " + big + ", pointer_size " + big + ", xet_hash TEXT, download_url TEXT);"
      "INSERT INTO files_v3 SELECT f.model_id, p.path, f.size, f.oid, f.lfs_sha256, f.lfs_size, f.pointer_size, "
      "f.xet_hash, f.download_url FROM files f JOIN paths p ON p.path_id = f.path_id;"
      "DROP TABLE files; DROP TABLE paths; ALTER TABLE files_v3 RENAME TO files;"
      "CREATE INDEX files_model_path ON files (model_id, path); CREATE INDEX files_path ON files (path);"
      "CREATE INDEX files_lfs_sha256 ON files (lfs_sha256); CREATE INDEX files_oid ON files (oid);"
      "UPDATE hfmm_schema SET version = 3;";
  if (std::string_view(backend::dialect.path_key_setup).find("SEQUENCE") != std::string_view::npos)
    sql += "DROP SEQUENCE paths_path_id;";
  REQUIRE(storage.backend().exec(sql));
  REQUIRE(storage.schema_version().value() == 3);
}

/// The files table's indexes, name to CREATE INDEX text, from the database's own catalog.
template <class S>
std::map<std::string, std::string> files_index_definitions(S& storage) {
  using backend = std::remove_cvref_t<decltype(storage.backend())>;
  auto rows = storage.backend().rows(backend::dialect.files_index_definitions, {});
  REQUIRE(rows);
  std::map<std::string, std::string> definitions;
  for (const auto& r : *rows) definitions[r[0].value_or("")] = r[1].value_or("");
  return definitions;
}

/// The names of the files table's indexes.
template <class S>
std::set<std::string> files_index_names(S& storage) {
  std::set<std::string> names;
  for (const auto& [name, definition] : files_index_definitions(storage)) names.insert(name);
  return names;
}

#ifdef HFMM_HAVE_SQLITE
template <>
struct store_place<hfmm::sqlite_storage> : file_place<hfmm::sqlite_storage> {
  store_place() : file_place("catalog.sqlite") {}
  bool make_newer() { return raise_schema_version(make()); }
};
#endif

#ifdef HFMM_HAVE_DUCKDB
template <>
struct store_place<hfmm::duckdb_storage> : file_place<hfmm::duckdb_storage> {
  store_place() : file_place("catalog.duckdb") {}
  bool make_newer() { return raise_schema_version(make()); }
};
#endif

#ifdef HFMM_HAVE_POSTGRES
/// A fresh database on the test server (HFMM_TEST_POSTGRES), dropped afterwards.
struct postgres_database {
  std::string admin, name, conninfo;
  postgres_database() {
    const char* env = std::getenv("HFMM_TEST_POSTGRES");
    if (!env || !*env) return;
    admin = env;
    static int counter = 0;
    name = "hfmm_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    run("CREATE DATABASE " + name);
    conninfo = admin + " dbname=" + name;
  }
  ~postgres_database() {
    if (!name.empty()) run("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }
  void run(const std::string& sql) const {
    PGconn* c = PQconnectdb(admin.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    INFO(std::string(PQerrorMessage(c)));
    CHECK((PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK));
    PQclear(r);
    PQfinish(c);
  }
};

/// The first column of the first row of `sql` as a number (-1 when the query fails).
inline long postgres_count(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? std::stol(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  PQfinish(c);
  return n;
}

template <>
struct store_place<hfmm::postgres_storage> {
  postgres_database db;
  bool available() const {
    if (db.conninfo.empty()) {
      skip("no PostgreSQL server to test against: set HFMM_TEST_POSTGRES (scripts/test starts one)");
      return false;
    }
    return true;
  }
  hfmm::postgres_storage make() const { return hfmm::postgres_storage(db.conninfo); }
  bool make_newer() { return raise_schema_version(make()); }
};
#endif

}  // namespace hfmm_test

#define HFMM_TEST_STORAGE_MEMORY hfmm::memory_storage, hfmm::json_file_storage
#ifdef HFMM_HAVE_GZIP
#define HFMM_TEST_STORAGE_GZIP , hfmm::gzip_json_file_storage
#else
#define HFMM_TEST_STORAGE_GZIP
#endif
#ifdef HFMM_HAVE_ZSTD
#define HFMM_TEST_STORAGE_ZSTD , hfmm::zstd_json_file_storage
#else
#define HFMM_TEST_STORAGE_ZSTD
#endif
#ifdef HFMM_HAVE_SQLITE
#define HFMM_TEST_STORAGE_SQLITE , hfmm::sqlite_storage
#else
#define HFMM_TEST_STORAGE_SQLITE
#endif
#ifdef HFMM_HAVE_DUCKDB
#define HFMM_TEST_STORAGE_DUCKDB , hfmm::duckdb_storage
#else
#define HFMM_TEST_STORAGE_DUCKDB
#endif
#ifdef HFMM_HAVE_POSTGRES
#define HFMM_TEST_STORAGE_POSTGRES , hfmm::postgres_storage
#else
#define HFMM_TEST_STORAGE_POSTGRES
#endif
#define HFMM_QUERYABLE_STORAGES_ALL HFMM_TEST_STORAGE_SQLITE HFMM_TEST_STORAGE_DUCKDB HFMM_TEST_STORAGE_POSTGRES
#if defined(HFMM_HAVE_SQLITE) || defined(HFMM_HAVE_DUCKDB) || defined(HFMM_HAVE_POSTGRES)
// The stores that model queryable_storage, for TEST_CASE_TEMPLATE. The storage macros start
// with a comma (each is written to follow another): the first one is dropped.
#define HFMM_QUERYABLE_REST(first, ...) __VA_ARGS__
#define HFMM_QUERYABLE_DROP_FIRST(...) HFMM_QUERYABLE_REST(__VA_ARGS__)
#define HFMM_QUERYABLE_STORAGES HFMM_QUERYABLE_DROP_FIRST(unused HFMM_QUERYABLE_STORAGES_ALL)
#endif
#define HFMM_TEST_STORAGES                                                                                       \
  HFMM_TEST_STORAGE_MEMORY HFMM_TEST_STORAGE_GZIP HFMM_TEST_STORAGE_ZSTD HFMM_TEST_STORAGE_SQLITE HFMM_TEST_STORAGE_DUCKDB \
      HFMM_TEST_STORAGE_POSTGRES
