#pragma once
// Picks the storage policy from a --store spec at run time, for templates that need it at
// compile time: with_store(spec, mode, f, usage_error) calls f(storage) with the right type.
// `mode` opens the JSON stores and SQLite read-only for queries (no writer lock: they work
// while a writer holds the store, and in a read-only directory).
//   PATH.json (or any path)  json_file_storage     PATH.json.gz   gzip_json_file_storage
//   PATH.json.zst            zstd_json_file_storage
//   sqlite:PATH  duckdb:PATH  postgres:CONNINFO
// Each backend is compiled in when its library was found (HFMM_HAVE_*).
#include <hfmm/storage/json_file.hpp>
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

#include <cctype>
#include <string>

namespace hfmm_cli {

template <class F, class Usage>
int with_store(const std::string& spec, hfmm::open_mode mode, F&& f, Usage&& usage_error) {
  [[maybe_unused]] auto missing = [&](const char* what) { return usage_error(std::string("this hfmm was built without ") + what + " support"); };
  if (spec.starts_with("sqlite:")) {
#ifdef HFMM_HAVE_SQLITE
    return f(hfmm::sqlite_storage(spec.substr(7), mode));
#else
    return missing("SQLite");
#endif
  }
  if (spec.starts_with("duckdb:")) {
#ifdef HFMM_HAVE_DUCKDB
    return f(hfmm::duckdb_storage(spec.substr(7), mode));
#else
    return missing("DuckDB");
#endif
  }
  if (spec.starts_with("postgres:")) {
#ifdef HFMM_HAVE_POSTGRES
    return f(hfmm::postgres_storage(spec.substr(9)));
#else
    return missing("PostgreSQL");
#endif
  }
  // "name:" that is not a known scheme is a typo more often than a file name.
  if (auto colon = spec.find(':'); colon != std::string::npos && spec.find('/') > colon && !spec.ends_with(".json") &&
                                   std::isalpha(static_cast<unsigned char>(spec[0])))
    return usage_error("unknown store \"" + spec + "\": use a file path (.json, .json.gz, .json.zst) or sqlite:PATH, "
                       "duckdb:PATH, postgres:CONNINFO");
  if (spec.ends_with(".gz")) {
#ifdef HFMM_HAVE_GZIP
    return f(hfmm::gzip_json_file_storage(spec, mode));
#else
    return missing("gzip");
#endif
  }
  if (spec.ends_with(".zst")) {
#ifdef HFMM_HAVE_ZSTD
    return f(hfmm::zstd_json_file_storage(spec, mode));
#else
    return missing("zstd");
#endif
  }
  return f(hfmm::json_file_storage(spec, mode));
}

}  // namespace hfmm_cli
