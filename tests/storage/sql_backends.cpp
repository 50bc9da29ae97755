// What is peculiar to each SQL backend: migrations, the Python Model Manager's DuckDB table,
// PostgreSQL as a shared catalog. The shared behaviour is in contract.cpp.
#include "storage_support.hpp"

#include <atomic>
#include <bit>
#include <csignal>
#include <random>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HFMM_HAVE_SQLITE
#include <sqlite3.h>

TEST_CASE("sqlite: a version-1 database is upgraded in place, its rows kept") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "old.sqlite";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    // The layout hfmm wrote before history and unknown keys were kept.
    const char* v1 =
        "CREATE TABLE hfmm_schema (version INTEGER NOT NULL); INSERT INTO hfmm_schema VALUES (1);"
        "CREATE TABLE models (model_id TEXT PRIMARY KEY, position INTEGER NOT NULL, model_name TEXT NOT NULL, "
        "model_type TEXT NOT NULL, architecture TEXT NOT NULL, inputs TEXT, outputs TEXT, huggingface_config TEXT, "
        "inference_code_location TEXT, supported_backends TEXT, hardware_requirements TEXT, performance_metrics TEXT, "
        "tags TEXT, source_url TEXT, license TEXT, description TEXT, created_at TEXT, updated_at TEXT, "
        "has_structure INTEGER NOT NULL, structure_model_id TEXT, repo_type TEXT, branch TEXT, commit_sha TEXT, "
        "fetched_at TEXT, url_prefix TEXT);"
        "CREATE TABLE files (model_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, oid TEXT NOT NULL, "
        "lfs_sha256 TEXT, lfs_size INTEGER, pointer_size INTEGER, xet_hash TEXT, download_url TEXT);"
        "INSERT INTO models VALUES ('org/old', 1, 'old', 'language_model', 'GPT2', "
        "'[{\"name\":\"input_ids\",\"data_type\":\"DataType.TOKENS\"}]', '[]', NULL, NULL, '[]', NULL, NULL, '[\"t\"]', "
        "NULL, NULL, 'kept', '2026-01-01T00:00:00.000000', '2026-01-01T00:00:00.000000', 1, 'org/old', 'model', 'main', "
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2026-01-01T00:00:00.000000', "
        "'https://huggingface.co/org/old/resolve/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/');"
        "INSERT INTO files VALUES ('org/old', 'config.json', 10, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', NULL, NULL, "
        "NULL, NULL, NULL);";
    REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  hfmm::sqlite_storage s(path);
  REQUIRE(s.open());
  CHECK(s.schema_version().value() == 5);  // through 2 (history, unknown keys), 3 (model info), 4 (paths table), 5 (totals)
  auto models = s.load();
  REQUIRE(models);
  REQUIRE(models->size() == 1);
  const auto& m = (*models)[0];
  CHECK(m.description == "kept");
  CHECK(m.inputs.at(0).data_type == hfmm::data_type::tokens);
  CHECK(m.repository_structure->files.find("config.json")->download_url ==
        "https://huggingface.co/org/old/resolve/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/config.json");
  CHECK_FALSE(m.repository_structure->model_info);
  auto updated = m;
  updated.extra["new_key"] = "now stored";
  updated.repository_structure->model_info = hfmm::hub_model_info{.pipeline_tag = "text-generation", .gated = "auto"};
  REQUIRE(s.upsert(updated));
  auto reloaded = s.load()->at(0);
  CHECK(reloaded.extra.at("new_key") == "now stored");
  CHECK(reloaded.repository_structure->model_info == updated.repository_structure->model_info);
}
#endif

#ifdef HFMM_HAVE_DUCKDB
TEST_CASE("duckdb: a new store is written in the v1.2 storage format") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "new.duckdb";
  {
    hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher> mm{hfmm::duckdb_storage(path)};
    REQUIRE(mm.add_model({.model_id = "org/m", .model_name = "m"}));
  }
  // The file header: "DUCK" at byte 8, then the storage version number (64: v0.10, 65: v1.2).
  auto bytes = hfmm_test::slurp(path);
  REQUIRE(bytes.size() > 20);
  CHECK(bytes.substr(8, 4) == "DUCK");
  CHECK(static_cast<unsigned char>(bytes[12]) == 65);
}

TEST_CASE("duckdb: the Python Model Manager's model_metadata table is imported on open, and left as it was") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "python.duckdb";
  const std::string python_structure =
      R"({"model_id": "gpt2", "branch": "main", "fetched_at": "2023-10-15T10:30:00.000Z", "files": {)"
      R"("config.json": {"size": 665, "lfs": {}, "oid": "10c66461e4c109db5a2196bff4bb59be30396ed8", "download_url": "https://huggingface.co/gpt2/resolve/main/config.json"},)"
      R"("model.safetensors": {"size": 548105171, "lfs": {"oid": "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707", "size": 548105171, "pointerSize": 135}, "oid": "44b36d6e32d13c8fb28b0feab0ac8bfefa7efeda", "download_url": "https://huggingface.co/gpt2/resolve/main/model.safetensors"}},)"
      R"("total_files": 2, "total_size": 548105836})";
  {
    // The Python Model Manager's own table, exactly as its code creates it.
    hfmm::detail::duckdb_backend raw(path);
    REQUIRE(raw.connect());
    REQUIRE(raw.exec(
        "CREATE TABLE model_metadata (model_id VARCHAR PRIMARY KEY, model_name VARCHAR NOT NULL, model_type VARCHAR NOT "
        "NULL, architecture VARCHAR NOT NULL, inputs JSON, outputs JSON, huggingface_config JSON, "
        "inference_code_location VARCHAR, supported_backends JSON, hardware_requirements JSON, performance_metrics "
        "JSON, tags JSON, source_url VARCHAR, license VARCHAR, description TEXT, repository_structure JSON, "
        "created_at TIMESTAMP, updated_at TIMESTAMP);"
        "CREATE INDEX idx_model_type ON model_metadata(model_type);"
        "CREATE INDEX idx_architecture ON model_metadata(architecture);"
        "CREATE INDEX idx_model_name ON model_metadata(model_name);"));
    std::vector<hfmm::detail::sql_value> row{
        "gpt2", "gpt2", "language_model", "GPT2LMHeadModel",
        R"([{"name": "input_ids", "data_type": "DataType.TOKENS", "shape": [null, 1024], "dtype": "int64", "description": "Tokenized input", "optional": false}])",
        R"([{"name": "logits", "data_type": "DataType.LOGITS", "shape": null, "dtype": "float32", "description": "Model output logits", "optional": false}])",
        R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 50257})", std::nullopt, R"(["cpu"])", std::nullopt,
        std::nullopt, R"(["text-generation"])", "https://huggingface.co/gpt2", "mit", "GPT-2", python_structure,
        "2023-10-15 10:30:00", "2023-10-15 10:30:00.5"};
    REQUIRE(raw.run("INSERT INTO model_metadata VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                    "$15, $16, $17, $18)",
                    row));
    raw.disconnect();
  }
  {
    hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher> mm(hfmm::duckdb_storage{path});
    REQUIRE(mm.size() == 1);
    const auto* m = mm.get_model("gpt2");
    REQUIRE(m);
    CHECK(m->inputs.at(0).data_type == hfmm::data_type::tokens);
    CHECK(m->outputs.at(0).data_type == hfmm::data_type::logits);
    CHECK(m->huggingface_config->at("vocab_size") == 50257);
    CHECK(hfmm::detail::format_timestamp(m->updated_at) == "2023-10-15T10:30:00.500000");
    CHECK(mm.get_models_by_input_type(hfmm::data_type::tokens).size() == 1);
    CHECK(mm.get_model_file_hash("gpt2", "config.json") == "10c66461e4c109db5a2196bff4bb59be30396ed8");
    CHECK(hfmm::get_file_sha256_from_structure(m->repository_structure, "model.safetensors") ==
          "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707");
    // Ours is newer now: a second open must not re-import over it.
    auto mine = *m;
    mine.description = "edited in hfmm";
    REQUIRE(mm.add_model(mine));
  }
  hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher> again(hfmm::duckdb_storage{path});
  CHECK(again.get_model("gpt2")->description == "edited in hfmm");
  auto& raw = again.storage().backend();
  auto python_rows = raw.rows("SELECT description FROM model_metadata", {});
  REQUIRE(python_rows);
  CHECK(python_rows->at(0).at(0) == "GPT-2");  // the Python table is untouched
}
#endif

namespace {
[[maybe_unused]] hfmm::model_metadata named(const std::string& id, const std::string& description = "") {
  hfmm::model_metadata m{.model_id = id, .model_name = id};
  m.description = description;
  hfmm::repo_structure s{.model_id = id, .commit_sha = std::string(40, 'e')};
  s.files.insert("config.json", {.size = 1, .oid = std::string(40, 'f')});
  s.files.insert("weights/model.safetensors", {.size = 2, .oid = std::string(40, '0')});
  m.repository_structure = std::move(s);
  return m;
}
}  // namespace

#ifdef HFMM_HAVE_POSTGRES

TEST_CASE("postgres: writers on several machines share one catalog; reload sees the others") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  using manager = hfmm::model_manager<hfmm::postgres_storage, hfmm::mock_fetcher>;
  manager reader(place.make());

  // Two processes (standing for two machines) upsert at the same time, partly the same models.
  constexpr int per_writer = 150;
  std::vector<pid_t> children;
  for (int w = 0; w < 2; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      auto mm = manager::open(place.make());
      if (!mm) ::_exit(2);
      for (int i = 0; i < per_writer; ++i) {
        if (!mm->add_model(named("writer" + std::to_string(w) + "/m" + std::to_string(i)))) ::_exit(3);
        if (!mm->add_model(named("shared/m" + std::to_string(i % 10), "by writer " + std::to_string(w)))) ::_exit(4);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // The reader, opened before, asks the database (queried mode): it sees every committed write.
  CHECK(reader.get_model("writer1/m149") != nullptr);
  CHECK(reader.size() == 2 * per_writer + 10);  // nothing lost
  REQUIRE(reader.reload());  // forgets what it materialized
  CHECK(reader.size() == 2 * per_writer + 10);
  for (int i = 0; i < 10; ++i) {
    const auto* m = reader.get_model("shared/m" + std::to_string(i));
    REQUIRE(m);
    CHECK(m->repository_structure->total_files() == 2);  // no duplicated or lost file rows
  }
}

namespace {
// A fleet's catalog: every file of a model carries its commit (oid = commit), so a model read
// half from one commit and half from another is visible.
constexpr int fleet_models = 800, fleet_files = 20, fleet_groups = 16;

hfmm::repo_structure fleet_structure(int i, char commit) {
  hfmm::repo_structure s{.model_id = "fleet/m" + std::to_string(i), .commit_sha = std::string(40, commit)};
  for (int f = 0; f < fleet_files; ++f)  // file 0 puts the model in one of 16 groups (a with-file of 50 models)
    s.files.insert((f == 0 ? "group-" + std::to_string(i % fleet_groups) : "shard-" + std::to_string(f % 4)) + "/file-" +
                       std::to_string(f) + ".bin",
                   {.size = static_cast<std::uint64_t>(f + 1), .oid = std::string(40, commit)});
  return s;
}

/// The commit a model shows when it is whole (one commit in every file, every file there), else 0.
char whole_commit(const hfmm::model_metadata& m) {
  if (!m.repository_structure || m.repository_structure->commit_sha.size() != 40) return 0;
  const auto& s = *m.repository_structure;
  if (s.files.size() != fleet_files) return 0;
  for (auto f : s.files)
    if (f.oid() != s.commit_sha) return 0;
  return s.commit_sha[0];
}

/// A PostgreSQL store that records the most models one read handed the manager, and whether
/// the manager ever loaded the whole catalog: a fleet reader must do neither.
struct watched_postgres : hfmm::postgres_storage {
  using postgres_storage::postgres_storage;
  std::atomic<long>* most = nullptr;
  void saw(std::size_t n) {
    if (most && static_cast<long>(n) > most->load()) most->store(static_cast<long>(n));
  }
  hfmm::result<std::vector<hfmm::model_metadata>> load() {
    auto all = postgres_storage::load();
    if (all) saw(all->size());
    return all;
  }
  hfmm::result<std::optional<hfmm::model_metadata>> find_model(std::string_view id) {
    auto one = postgres_storage::find_model(id);
    if (one) saw(one->has_value() ? 1 : 0);
    return one;
  }
  hfmm::result<std::vector<hfmm::model_metadata>> find_models(std::span<const std::string> ids) {
    auto some = postgres_storage::find_models(ids);
    if (some) saw(some->size());
    return some;
  }
};

/// What the processes of the fleet test tell each other (shared memory).
struct fleet_board {
  std::atomic<int> writer_done{0};
  std::atomic<int> rounds{0};
  std::atomic<unsigned> commits_seen{0};  ///< bit (c - 'a') for each whole commit read
  std::atomic<long> reads{0}, torn{0};
  std::atomic<long> most_models_read{0};  ///< by one read of any reader
};
}  // namespace

TEST_CASE("postgres fleet: readers see committed models only while a writer refreshes; none holds the catalog") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  using manager = hfmm::model_manager<hfmm::postgres_storage, hfmm::mock_fetcher>;
  static_assert(hfmm::queryable_storage<hfmm::postgres_storage>);  // nothing loaded on open
  {
    manager seed(place.make());
    std::vector<hfmm::model_metadata> models;
    for (int i = 0; i < fleet_models; ++i) {
      hfmm::model_metadata m{.model_id = "fleet/m" + std::to_string(i), .model_name = "m" + std::to_string(i)};
      m.repository_structure = fleet_structure(i, 'a');
      models.push_back(std::move(m));
    }
    REQUIRE(seed.add_models(models));
  }
  auto* board = new (::mmap(nullptr, sizeof(fleet_board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))
      fleet_board;
  std::vector<pid_t> children;
  auto spawn = [&](auto body) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    children.push_back(pid);
  };
  // The writer: refresh_all to a new commit, round after round (batches of 100 models, each
  // one transaction), until the readers have seen three commits or 30 rounds passed.
  spawn([&]() -> int {
    for (int round = 0; round < 30; ++round) {
      char commit = static_cast<char>('b' + round % 5);
      hfmm::mock_fetcher hub;
      for (int i = 0; i < fleet_models; ++i) hub.add(fleet_structure(i, commit));
      auto mm = manager::open(place.make(), std::move(hub));
      if (!mm) return 2;
      auto report = mm->refresh_all({.concurrency = 8});
      if (report.failed() != 0) return 3;
      board->rounds = round + 1;
      if (std::popcount(board->commits_seen.load()) >= 3 && round >= 2) break;
    }
    board->writer_done = 1;
    return 0;
  });
  // Three readers, each a fresh process with its own connection: whole models only, one
  // model or one group of 50 at a time.
  for (int r = 0; r < 3; ++r)
    spawn([&, r]() -> int {
      std::mt19937 pick(static_cast<unsigned>(r + 1));
      watched_postgres store(place.db.conninfo);
      store.most = &board->most_models_read;
      auto mm = hfmm::model_manager<watched_postgres, hfmm::mock_fetcher>::open(std::move(store));
      if (!mm) return 2;
      auto check = [&](const hfmm::model_metadata& m) {
        char commit = whole_commit(m);
        if (!commit) ++board->torn;
        else board->commits_seen |= 1u << (commit - 'a');
        ++board->reads;
      };
      while (!board->writer_done) {
        if (!mm->reload()) return 3;  // forget what was read: ask the database again
        const auto* m = mm->get_model("fleet/m" + std::to_string(pick() % fleet_models));
        if (!m) return 4;
        check(*m);
        auto group = mm->get_models_with_file("group-" + std::to_string(pick() % fleet_groups) + "/");
        if (group.size() != fleet_models / fleet_groups) return 5;
        for (const auto* g : group) check(*g);
        if (mm->get_stats().total_models != fleet_models) ++board->torn;
      }
      return 0;
    });
  for (auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CAPTURE(board->rounds.load());
  CAPTURE(board->reads.load());
  CHECK(board->reads > 100);
  CHECK(board->torn == 0);  // never a model half of one commit, half of another
  CHECK(std::popcount(board->commits_seen.load()) >= 2);  // the reads did overlap the writes
  CHECK(board->most_models_read == fleet_models / fleet_groups);  // never the whole catalog
  board->~fleet_board();
  ::munmap(board, sizeof(fleet_board));
}

TEST_CASE("postgres fleet: a writer that loses its connection mid-batch leaves no partial model") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  using manager = hfmm::model_manager<hfmm::postgres_storage, hfmm::mock_fetcher>;
  {
    manager seed(place.make());
    REQUIRE(seed.add_model(named("fleet/existing")));
  }
  // One batch of 3000 models (60 000 files): the connection is cut while its file rows stream
  // in (COPY).
  pid_t pid = ::fork();
  if (pid == 0) {
    auto mm = manager::open(place.make());
    if (!mm) ::_exit(2);
    std::vector<hfmm::model_metadata> models;
    for (int i = 0; i < 3000; ++i) {
      hfmm::model_metadata m{.model_id = "fleet/m" + std::to_string(i), .model_name = "m"};
      m.repository_structure = fleet_structure(i, 'b');
      models.push_back(std::move(m));
    }
    auto ok = mm->add_models(models);
    ::_exit(ok ? 0 : ok.error() == hfmm::errc::storage_io ? 5 : 6);
  }
  // Cut the writer's session as soon as it is inserting file rows.
  bool cut = false;
  for (int i = 0; i < 2000 && !cut; ++i) {
    PGconn* c = PQconnectdb(place.db.conninfo.c_str());
    PGresult* r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'COPY files%'");
    cut = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    PQfinish(c);
    if (!cut) ::usleep(2000);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(cut);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);  // the batch failed, as storage_io
  // All or nothing: the batch left nothing behind, the model stored before is whole.
  manager reader(place.make());
  CHECK(reader.size() == 1);
  const auto* existing = reader.get_model("fleet/existing");
  REQUIRE(existing);
  CHECK(existing->repository_structure->total_files() == 2);
  auto files = hfmm_test::postgres_count(place.db.conninfo, "SELECT count(*) FROM files");
  CHECK(files == 2);  // no orphan file rows either
}

TEST_CASE("postgres: a lost connection gives a clear error, the next call reconnects") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  auto s = place.make();
  REQUIRE(s.open());
  REQUIRE(s.load());
  REQUIRE(s.upsert(named("org/a")));
  // Another session kills ours, as a server restart or a network cut would.
  place.db.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + place.db.name +
               "' AND pid <> pg_backend_pid()");
  auto failed = s.upsert(named("org/b"));
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == hfmm::errc::storage_io);
  CHECK(s.error_detail().find("connection") != std::string::npos);
  CHECK(s.upsert(named("org/c")));  // reconnected
  // ... with the session's settings again (a reconnect had lost `SET jit = off`).
  auto jit = s.backend().rows("SHOW jit", {});
  REQUIRE(jit);
  REQUIRE(jit->size() == 1);
  CHECK((*jit)[0][0] == std::optional<std::string>("off"));
  auto all = s.load();
  REQUIRE(all);
  CHECK(all->size() == 2);
  CHECK(s.close());
}
#endif

#if defined(HFMM_HAVE_GZIP) && defined(HFMM_HAVE_ZSTD)
TEST_CASE("compressed stores are standard .gz / .zst files; a truncated one is refused, untouched") {
  hfmm_test::scratch_dir dir;
  auto check = [&](auto storage, std::string_view magic) {
    using S = decltype(storage);
    auto path = storage.path();
    {
      hfmm::model_manager<S, hfmm::mock_fetcher> mm(std::move(storage));
      REQUIRE(mm.add_model({.model_id = "org/m", .model_name = "m"}));
    }
    auto bytes = hfmm_test::slurp(path);
    CHECK(bytes.substr(0, magic.size()) == magic);
    auto cut = bytes.substr(0, bytes.size() - 5);
    hfmm_test::spit(path, cut);
    auto reopened = hfmm::model_manager<S, hfmm::mock_fetcher>::open(S(path));
    REQUIRE_FALSE(reopened);
    CHECK(reopened.error() == hfmm::errc::storage_corrupt);
    CHECK(hfmm_test::slurp(path) == cut);
  };
  check(hfmm::gzip_json_file_storage(dir / "c.json.gz"), "\x1f\x8b");
  check(hfmm::zstd_json_file_storage(dir / "c.json.zst"), "\x28\xb5\x2f\xfd");
}
#endif

#ifdef HFMM_HAVE_DUCKDB
TEST_CASE("duckdb: the index of a model's files is on model_id alone (an ART index answers only its full key)") {
  // On (model_id, path_id), a read of one model's files scanned all 24 M file rows of a
  // 1 000 000-model store: 0.24 s and 165 MB per one-shot show, against 0.06 s and 63 MB.
  hfmm_test::scratch_dir dir;
  hfmm::duckdb_storage s(dir / "c.duckdb");
  REQUIRE(s.open());
  REQUIRE(s.upsert(named("org/m")));
  auto index = s.backend().rows("SELECT sql FROM duckdb_indexes() WHERE index_name = 'files_model_path'", {});
  REQUIRE(index);
  REQUIRE(index->size() == 1);
  auto sql = (*index)[0][0].value_or("");
  CHECK_MESSAGE(sql.find("(model_id)") != std::string::npos, sql);
  CHECK(s.find_model("org/m").value()->repository_structure->files.size() == 2);
  CHECK(s.close());
}

TEST_CASE("duckdb: a files index missing (an import killed after its load committed) is built by the next read-write open") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "c.duckdb";
  const std::set<std::string> all = {"files_model_path", "files_path", "files_lfs_sha256", "files_oid"};
  {
    hfmm::duckdb_storage s(path);
    REQUIRE(s.open());
    REQUIRE(s.upsert(named("org/m")));
    REQUIRE(s.backend().exec("DROP INDEX files_path; DROP INDEX files_oid;"));
    CHECK(hfmm_test::files_index_names(s) == std::set<std::string>{"files_model_path", "files_lfs_sha256"});
  }
  {
    hfmm::duckdb_storage reader(path, hfmm::open_mode::read_only);  // builds nothing, answers all the same
    REQUIRE(reader.open());
    CHECK(hfmm_test::files_index_names(reader).size() == 2);
    CHECK(reader.models_with_path("config.json").value() == std::vector<std::string>{"org/m"});
  }
  hfmm::duckdb_storage writer(path);
  REQUIRE(writer.open());
  CHECK(hfmm_test::files_index_names(writer) == all);
  CHECK(writer.find_model("org/m").value()->repository_structure->files.size() == 2);
}

TEST_CASE("duckdb: readers open read-only, several at once, and change nothing") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "c.duckdb";
  using manager = hfmm::model_manager<hfmm::duckdb_storage, hfmm::mock_fetcher>;
  {
    hfmm::duckdb_storage missing(path, hfmm::open_mode::read_only);
    CHECK(missing.open().error() == hfmm::errc::file_not_found);  // nothing created
    CHECK(missing.error_detail().find("hfmm add") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
  }
  {
    manager writer(hfmm::duckdb_storage{path});
    REQUIRE(writer.add_model(named("org/a")));
  }
  auto bytes = hfmm_test::slurp(path);
  {
    auto first = manager::open(hfmm::duckdb_storage(path, hfmm::open_mode::read_only));
    auto second = manager::open(hfmm::duckdb_storage(path, hfmm::open_mode::read_only));
    REQUIRE(first);
    REQUIRE(second);  // while the first reader has it open
    CHECK(first->get_model("org/a") != nullptr);
    CHECK(second->get_model("org/a") != nullptr);
    CHECK(first->add_model(named("org/c")).error() == hfmm::errc::storage_read_only);
    CHECK(first->remove_model("org/a").error() == hfmm::errc::storage_read_only);
  }
  CHECK(hfmm_test::slurp(path) == bytes);  // no checkpoint, no WAL
}
#endif

#ifdef HFMM_HAVE_SQLITE
TEST_CASE("sqlite: a read-only reader is not blocked by the writer, sees its commits, changes nothing") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "c.sqlite";
  using writer_manager = hfmm::model_manager<hfmm::sqlite_storage, hfmm::mock_fetcher>;
  {
    hfmm::sqlite_storage missing(path, hfmm::open_mode::read_only);
    CHECK(missing.open().error() == hfmm::errc::file_not_found);  // nothing created
    CHECK_FALSE(std::filesystem::exists(path));
  }
  writer_manager writer(hfmm::sqlite_storage{path});
  REQUIRE(writer.add_model(named("org/a")));
  hfmm::sqlite_storage second_writer(path);
  CHECK(second_writer.open().error() == hfmm::errc::storage_locked);

  auto reader = writer_manager::open(hfmm::sqlite_storage(path, hfmm::open_mode::read_only));
  REQUIRE(reader);  // while the writer holds the store
  REQUIRE(reader->get_model("org/a"));
  REQUIRE(writer.add_model(named("org/b")));
  CHECK(reader->get_model("org/b") != nullptr);  // the writer's later commit
  auto bytes = hfmm_test::slurp(path);
  CHECK(reader->add_model(named("org/c")).error() == hfmm::errc::storage_read_only);
  CHECK(reader->remove_model("org/a").error() == hfmm::errc::storage_read_only);
  CHECK(hfmm_test::slurp(path) == bytes);
  CHECK(reader->size() == 2);
}

TEST_CASE("sqlite: the models at a path are read from files_path alone; an import's index builds leave the writer's cache") {
  hfmm_test::scratch_dir dir;
  hfmm::sqlite_storage s(dir / "c.sqlite");
  REQUIRE(s.open());
  std::vector<hfmm::model_metadata> models = {named("org/a"), named("org/b")};
  // Into an empty store: the indexes are dropped for the load and built after it.
  REQUIRE(s.upsert_batches([&](const hfmm::batch_writer& write) { return write(models); }));
  auto sql = hfmm_test::files_index_definitions(s).at("files_path");
  CHECK_MESSAGE(sql.find("(path_id, model_id)") != std::string::npos, sql);
  auto plan = s.backend().rows("EXPLAIN QUERY PLAN SELECT model_id FROM files WHERE path_id = 1", {});
  REQUIRE(plan);
  std::string steps;
  for (const auto& row : *plan) steps += row.back().value_or("") + "; ";
  CHECK_MESSAGE(steps.find("COVERING INDEX files_path") != std::string::npos, steps);
  auto cache = s.backend().rows("PRAGMA cache_size", {});  // the index builds' smaller cache is undone
  REQUIRE(cache);
  CHECK((*cache)[0][0] == hfmm::detail::sql_value("-65536"));
  CHECK(s.models_with_path("CONFIG").value() == std::vector<std::string>{"org/a", "org/b"});
  CHECK(s.close());
}

TEST_CASE("sqlite: a read-only open of an older schema asks for one read-write open, changes nothing") {
  hfmm_test::scratch_dir dir;
  auto path = dir / "old.sqlite";
  {
    hfmm::sqlite_storage s(path);
    REQUIRE(s.open());
    REQUIRE(s.upsert(named("org/a")));
    hfmm_test::downgrade_to_schema_3(s);
    REQUIRE(s.close());
  }
  auto bytes = hfmm_test::slurp(path);
  hfmm::sqlite_storage reader(path, hfmm::open_mode::read_only);
  CHECK(reader.open().error() == hfmm::errc::storage_read_only);
  CHECK(reader.error_detail().find("read-write") != std::string::npos);
  CHECK(hfmm_test::slurp(path) == bytes);
  hfmm::sqlite_storage upgrade(path);
  REQUIRE(upgrade.open());
  CHECK(upgrade.schema_version().value() == hfmm::detail::sql_schema_version);
  REQUIRE(upgrade.close());
  CHECK(reader.open());
}
#endif

#ifdef HFMM_HAVE_POSTGRES
TEST_CASE("postgres: a batch with more file rows than one statement carries is stored whole") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  std::vector<hfmm::model_metadata> batch;
  constexpr int models = 1000, files_each = 45;  // 45 000 file rows: several statements
  for (int i = 0; i < models; ++i) {
    auto m = named("bulk/m" + std::to_string(i));
    for (int f = 0; f < files_each - 2; ++f)
      m.repository_structure->files.insert("shard-" + std::to_string(f) + ".bin", {.size = static_cast<std::uint64_t>(f), .oid = std::string(40, 'd')});
    batch.push_back(std::move(m));
  }
  auto s = place.make();
  REQUIRE(s.open());
  REQUIRE(s.upsert_many(batch));
  auto back = s.load();
  REQUIRE(back);
  REQUIRE(back->size() == models);
  std::size_t files = 0;
  for (const auto& m : *back) files += m.repository_structure->files.size();
  CHECK(files == static_cast<std::size_t>(models * files_each));
  CHECK((*back)[models - 1] == batch[models - 1]);
  CHECK(s.close());
}

TEST_CASE("postgres: a new store compares ids, paths and digests bytewise; a migrated one keeps one collation") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  auto collated_c = [&](const std::string& table, const std::string& columns) {
    return hfmm_test::postgres_count(place.db.conninfo, "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = '" +
                                                            table + "' AND column_name IN (" + columns +
                                                            ") AND collation_name = 'C'");
  };
  auto s = place.make();
  REQUIRE(s.open());
  REQUIRE(s.upsert(named("org/a")));
  CHECK(collated_c("models", "'model_id'") == 1);
  CHECK(collated_c("paths", "'path'") == 1);
  CHECK(collated_c("files", "'model_id', 'oid', 'lfs_sha256', 'xet_hash'") == 4);
  CHECK(collated_c("paths", "'lower_path'") == 0);  // searched with LIKE and pg_trgm: the database's own
  CHECK(collated_c("files", "'download_url'") == 0);
  // A store from before (version 3, the database's collation throughout) is upgraded in it.
  REQUIRE(s.backend().exec("ALTER TABLE models ALTER COLUMN model_id TYPE TEXT COLLATE \"default\""));
  hfmm_test::downgrade_to_schema_3(s);
  REQUIRE(s.close());
  REQUIRE(s.open());
  CHECK(s.schema_version().value() == hfmm::detail::sql_schema_version);
  CHECK(collated_c("models", "'model_id'") + collated_c("paths", "'path'") +
            collated_c("files", "'model_id', 'oid', 'lfs_sha256', 'xet_hash'") == 0);
  CHECK(s.models_with_path("CONFIG").value() == std::vector<std::string>{"org/a"});
  CHECK(s.find_model("org/a").value().has_value());
  CHECK(s.close());
}

TEST_CASE("postgres: path search has pg_trgm's index where the role may make it, and works without it") {
  hfmm_test::store_place<hfmm::postgres_storage> place;
  if (!place.available()) return;
  auto exec_in = [](const std::string& conninfo, const std::string& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    INFO(std::string(PQerrorMessage(c)));
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
  };
  auto a = named("org/a"), b = named("org/b");
  b.repository_structure->files.insert("Deep/Folder/Weights-Final.bin", {.size = 3, .oid = std::string(40, 'e')});
  auto search = [&](hfmm::postgres_storage& s) {
    REQUIRE(s.open());
    REQUIRE(s.upsert_many(std::vector{a, b}));
    CHECK(s.models_with_path("folder/weights-f").value() == std::vector<std::string>{"org/b"});
    CHECK(s.models_with_path("CONFIG").value() == std::vector<std::string>{"org/a", "org/b"});
    CHECK(s.models_with_path("%").value().empty());
    CHECK(s.close());
  };
  const std::string index_count = "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'paths_lower_trgm'";
  {
    auto s = place.make();  // the database's owner: the extension and its index are made
    search(s);
    CHECK(hfmm_test::postgres_count(place.db.conninfo, index_count) == 1);
    // The index can answer the store's substring search (with a scan ruled out, the plan uses it).
    PGconn* c = PQconnectdb(place.db.conninfo.c_str());
    PGresult* r = PQexec(c, "SET enable_seqscan = off; EXPLAIN SELECT path_id, path FROM paths WHERE lower_path LIKE "
                            "CAST('%folder/weights-f%' AS TEXT) ESCAPE '\\'");
    std::string plan;
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); ++i) plan.append(PQgetvalue(r, i, 0)).append("\n");
    PQclear(r);
    PQfinish(c);
    CHECK_MESSAGE(plan.find("paths_lower_trgm") != std::string::npos, plan);
  }
  {
    // While another process is making it, an open goes on without it rather than wait.
    exec_in(place.db.conninfo, "DROP INDEX paths_lower_trgm");
    PGconn* maker = PQconnectdb(place.db.conninfo.c_str());
    PQclear(PQexec(maker, "BEGIN"));
    PGresult* held = PQexec(maker, "SELECT pg_advisory_xact_lock(7236833651)");
    CHECK(PQresultStatus(held) == PGRES_TUPLES_OK);
    PQclear(held);
    auto s = place.make();
    REQUIRE(s.open());
    CHECK(hfmm_test::postgres_count(place.db.conninfo, index_count) == 0);
    CHECK(s.models_with_path("folder/weights-f").value() == std::vector<std::string>{"org/b"});
    CHECK(s.close());
    PQclear(PQexec(maker, "COMMIT"));
    PQfinish(maker);
    auto after = place.make();  // the next open makes it
    REQUIRE(after.open());
    CHECK(hfmm_test::postgres_count(place.db.conninfo, index_count) == 1);
    CHECK(after.close());
  }
  // A role that may create tables but not extensions: the store is made without the index.
  const std::string role = "hfmm_limited_" + std::to_string(::getpid());
  place.db.run("CREATE ROLE " + role + " LOGIN");
  hfmm_test::postgres_database other;
  exec_in(other.conninfo, "GRANT CREATE ON SCHEMA public TO " + role);
  {
    hfmm::postgres_storage s(other.conninfo + " user=" + role);
    search(s);
    CHECK(hfmm_test::postgres_count(other.conninfo, index_count) == 0);
  }
  {
    // A store without it (that role's, or an older hfmm's) gets it at a read-write open by one who may.
    hfmm::postgres_storage s(other.conninfo);
    REQUIRE(s.open());
    CHECK(hfmm_test::postgres_count(other.conninfo, index_count) == 1);
    CHECK(s.models_with_path("folder/weights-f").value() == std::vector<std::string>{"org/b"});
    CHECK(s.close());
  }
  exec_in(other.conninfo, "DROP OWNED BY " + role);
  place.db.run("DROP ROLE " + role);
}
#endif
