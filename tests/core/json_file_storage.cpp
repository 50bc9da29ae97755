#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>

#include <boost/json/parse.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace {
hfmm::model_metadata numbered(int i) {
  hfmm::model_metadata m;
  m.model_id = "org/model-" + std::to_string(i);
  m.model_name = "model-" + std::to_string(i);
  m.architecture = "Arch";
  m.inputs = {{.name = "input_ids", .data_type = hfmm::data_type::tokens}};
  hfmm::repo_structure s{.model_id = m.model_id, .commit_sha = std::string(40, 'a')};
  s.files.insert("config.json", {.size = 10, .oid = std::string(40, 'b')});
  m.repository_structure = std::move(s);
  return m;
}

std::vector<std::string> ids_in(const std::filesystem::path& store) {
  hfmm::json_model_manager mm{hfmm::json_file_storage(store)};
  std::vector<std::string> ids;
  for (auto* m : mm.list_models()) ids.push_back(m->model_id);
  return ids;
}
}  // namespace

TEST_CASE("the default path follows MODEL_MANAGER_JSON_PATH, and constructors do no I/O") {
  ::setenv("MODEL_MANAGER_JSON_PATH", "/tmp/hfmm-env-store.json", 1);
  CHECK(hfmm::json_file_storage().path() == "/tmp/hfmm-env-store.json");
  ::unsetenv("MODEL_MANAGER_JSON_PATH");
  CHECK(hfmm::json_file_storage().path() == "./model_metadata.json");
  hfmm::json_file_storage s("/nonexistent-dir/x.json");  // no I/O yet
  CHECK(s.open().error() == hfmm::errc::storage_io);
}

TEST_CASE("add_model appends to a journal; close folds it into the Python layout") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 5; ++i) REQUIRE(mm.add_model(numbered(i)));
    REQUIRE(mm.remove_model("org/model-1"));
    CHECK(std::filesystem::exists(mm.storage().journal_path()));
    CHECK_FALSE(std::filesystem::exists(store));  // nothing rewritten yet
  }
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.journal"));
  auto root = boost::json::parse(hfmm_test::slurp(store)).as_object();
  REQUIRE(root.size() == 4);
  std::vector<std::string> keys;
  for (auto& kv : root) keys.emplace_back(kv.key());
  CHECK(keys == std::vector<std::string>{"org/model-0", "org/model-2", "org/model-3", "org/model-4"});
  CHECK(root.at("org/model-0").as_object().size() == 18);
  CHECK(ids_in(store) == keys);
}

TEST_CASE("a journal is replayed on open when the writer did not close") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    REQUIRE(s.upsert(numbered(1)));
    REQUIRE(s.upsert_many(std::vector{numbered(2), numbered(3)}));
    REQUIRE(s.erase("org/model-2"));
    // No close(): as if the process ended here.
  }
  CHECK(ids_in(store) == std::vector<std::string>{"org/model-1", "org/model-3"});
}

TEST_CASE("a torn last journal line was never acknowledged and is dropped") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    REQUIRE(s.upsert(numbered(1)));
  }
  {
    std::ofstream j(dir / "catalog.json.journal", std::ios::app | std::ios::binary);
    j << "0badc0de {\"op\":\"upsert\",\"models\":[{\"model_id\":\"half";
  }
  CHECK(ids_in(store) == std::vector<std::string>{"org/model-1"});
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.journal"));  // compacted on close
}

TEST_CASE("a corrupt or truncated store fails to open and keeps its bytes") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 3; ++i) REQUIRE(mm.add_model(numbered(i)));
  }
  auto good = hfmm_test::slurp(store);
  for (auto bad : {good.substr(0, good.size() / 2), std::string("[1,2,3]"),
                   std::string(R"({"m":{"model_id":"m","tags":7}})")}) {
    hfmm_test::spit(store, bad);
    auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
    REQUIRE_FALSE(mm);
    CHECK(mm.error() == hfmm::errc::storage_corrupt);
    CHECK(hfmm_test::slurp(store) == bad);
    CHECK_THROWS_AS(hfmm::json_model_manager(hfmm::json_file_storage{store}), boost::system::system_error);
    CHECK(hfmm_test::slurp(store) == bad);
  }
  hfmm::json_file_storage s(store);
  REQUIRE(s.open());
  CHECK(s.load().error() == hfmm::errc::storage_corrupt);
  CHECK(s.error_detail().find("\"tags\"") != std::string::npos);
  CHECK(s.upsert(numbered(9)).error() == hfmm::errc::invalid_argument);  // refuses to write after a failed load
}

TEST_CASE("a second writer is refused, in this process and in another") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  hfmm::json_model_manager first(hfmm::json_file_storage{store});
  auto second = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
  REQUIRE_FALSE(second);
  CHECK(second.error() == hfmm::errc::storage_locked);

  pid_t child = ::fork();
  if (child == 0) {
    auto other = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
    ::_exit(!other && other.error() == hfmm::errc::storage_locked ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(first.close());
  CHECK(hfmm::json_model_manager::open(hfmm::json_file_storage{store}));  // free again
}

TEST_CASE("a journal whose base file was rewritten by another program is refused, nothing touched") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    REQUIRE(mm.add_model(numbered(0)));
  }
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    REQUIRE(s.upsert(numbered(1)));  // journal stamped with the current file
  }
  // The Python Model Manager rewrites the file (json.dump, indent=2).
  auto python_written = std::string("{\n  \"py/model\": {\"model_id\": \"py/model\", \"model_name\": \"model\"}\n}");
  hfmm_test::spit(store, python_written);
  auto journal = hfmm_test::slurp(dir / "catalog.json.journal");
  auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
  REQUIRE_FALSE(mm);
  CHECK(mm.error() == hfmm::errc::storage_conflict);
  CHECK(hfmm_test::slurp(store) == python_written);
  CHECK(hfmm_test::slurp(dir / "catalog.json.journal") == journal);
}

TEST_CASE("a journal of a newer format is refused with schema_newer") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  hfmm_test::spit(dir / "catalog.json.journal", "{\"hfmm_journal\":2}\n");
  auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
  REQUIRE_FALSE(mm);
  CHECK(mm.error() == hfmm::errc::schema_newer);
  CHECK(hfmm_test::slurp(dir / "catalog.json.journal") == "{\"hfmm_journal\":2}\n");
}

TEST_CASE("compaction past the threshold keeps every model; an interrupted compaction recovers") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_file_storage s(store);
    s.compact_threshold = 4096;
    hfmm::json_model_manager mm(std::move(s));
    for (int i = 0; i < 40; ++i) REQUIRE(mm.add_model(numbered(i)));
    CHECK(std::filesystem::exists(store));  // compacted along the way
  }
  CHECK(ids_in(store).size() == 40);

  // Crash after the journal was set aside but before the new file was renamed in.
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    REQUIRE(s.upsert(numbered(100)));
  }
  std::filesystem::rename(dir / "catalog.json.journal", dir / "catalog.json.journal.compacting");
  hfmm_test::spit(dir / "catalog.json.tmp", "{\"half written");
  auto ids = ids_in(store);
  CHECK(ids.size() == 41);
  CHECK(ids.back() == "org/model-100");
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.tmp"));
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.journal.compacting"));
}

TEST_CASE("a writer killed with SIGKILL mid-stream leaves every acknowledged model") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  for (int round = 0; round < 5; ++round) {
    int ack[2];
    REQUIRE(::pipe(ack) == 0);
    pid_t child = ::fork();
    if (child == 0) {
      ::close(ack[0]);
      hfmm::json_file_storage s(store);
      s.compact_threshold = 64 * 1024;  // compactions happen too
      auto mm = hfmm::json_model_manager::open(std::move(s));
      if (!mm) ::_exit(2);
      for (int i = 0;; ++i) {
        if (!mm->add_model(numbered(round * 100000 + i))) ::_exit(3);
        int n = i;
        if (::write(ack[1], &n, sizeof n) != sizeof n) ::_exit(4);
      }
    }
    ::close(ack[1]);
    int last = -1, n;
    int target = 20 + round * 37;
    while (last < target && ::read(ack[0], &n, sizeof n) == sizeof n) last = n;
    ::kill(child, SIGKILL);
    while (::read(ack[0], &n, sizeof n) == sizeof n) last = n;  // acks sent before the kill
    ::close(ack[0]);
    int status;
    ::waitpid(child, &status, 0);
    auto ids = ids_in(store);
    for (int i = 0; i <= last; ++i)
      CHECK(std::find(ids.begin(), ids.end(), "org/model-" + std::to_string(round * 100000 + i)) != ids.end());
  }
}
