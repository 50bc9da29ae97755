// What one process pays to use a DuckDB database, step by step, with nothing of hfmm's in it:
// the floor under hfmm's one-shot commands on a DuckDB store.
//
//   duckdb_floor [--read-only] [--set NAME=VALUE]... DB SQL...
//
// Opens DB (read-only as hfmm's readers do: one thread), runs each SQL statement in turn and
// closes it (a read-write close checkpoints the WAL), printing the wall time of each step in
// ms. Run it under /usr/bin/time -f '%e s %M KB' for the whole process. For example:
//   duckdb_floor --read-only c.duckdb "SELECT MAX(version) FROM hfmm_schema" \
//     "SELECT * FROM models WHERE model_id = 'org/m'" \
//     "SELECT p.path, f.* FROM files f JOIN paths p USING (path_id) WHERE f.model_id = 'org/m'"
#include <duckdb.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int usage() {
  std::fprintf(stderr, "usage: duckdb_floor [--read-only] [--set NAME=VALUE]... DB SQL...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  bool read_only = false;
  std::vector<std::pair<std::string, std::string>> settings;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]).starts_with("--"); ++i) {
    std::string_view option = argv[i];
    if (option == "--read-only") {
      read_only = true;
    } else if (option == "--set" && i + 1 < argc) {
      std::string_view setting = argv[++i];
      auto eq = setting.find('=');
      if (eq == std::string_view::npos) return usage();
      settings.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
    } else {
      return usage();
    }
  }
  if (i >= argc) return usage();
  const char* path = argv[i++];

  duckdb_config config = nullptr;
  duckdb_create_config(&config);
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  if (read_only) {
    duckdb_set_config(config, "access_mode", "READ_ONLY");
    duckdb_set_config(config, "threads", "1");
  }
  for (const auto& [name, value] : settings)
    if (duckdb_set_config(config, name.c_str(), value.c_str()) != DuckDBSuccess) {
      std::fprintf(stderr, "duckdb_floor: DuckDB has no setting %s\n", name.c_str());
      return 2;
    }
  duckdb_database db = nullptr;
  char* error = nullptr;
  if (duckdb_open_ext(path, &db, config, &error) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_floor: %s: %s\n", path, error ? error : "cannot open");
    return 1;
  }
  duckdb_destroy_config(&config);
  duckdb_connection conn = nullptr;
  duckdb_connect(db, &conn);
  std::printf("%8.2f ms  open\n", since(start));

  int failed = 0;
  for (; i < argc; ++i) {
    auto step = std::chrono::steady_clock::now();
    duckdb_result result;
    bool ok = duckdb_query(conn, argv[i], &result) == DuckDBSuccess;
    double ms = since(step);
    if (ok) {
      std::printf("%8.2f ms  %llu rows  %.70s\n", ms, static_cast<unsigned long long>(duckdb_row_count(&result)), argv[i]);
    } else {
      std::printf("%8.2f ms  error: %.200s\n", ms, duckdb_result_error(&result));
      failed = 1;
    }
    duckdb_destroy_result(&result);
  }

  auto closing = std::chrono::steady_clock::now();
  duckdb_disconnect(&conn);
  duckdb_close(&db);
  std::printf("%8.2f ms  close\n%8.2f ms  in all\n", since(closing), since(start));
  return failed;
}
