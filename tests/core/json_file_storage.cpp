#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>

#include <boost/json/parse.hpp>

#include <csignal>
#include <set>
#include <sys/stat.h>
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
  hfmm_test::spit(dir / "catalog.json.journal", "{\"hfmm_journal\":3}\n");
  auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage{store});
  REQUIRE_FALSE(mm);
  CHECK(mm.error() == hfmm::errc::schema_newer);
  CHECK(hfmm_test::slurp(dir / "catalog.json.journal") == "{\"hfmm_journal\":3}\n");
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
    int status = 0;
    ::waitpid(child, &status, 0);
    // The writer got going and was killed, not stopped by a failure of its own (a child that
    // cannot open the store acknowledges nothing and would leave nothing to check).
    CAPTURE(round);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    REQUIRE(last >= target);
    auto ids = ids_in(store);
    for (int i = 0; i <= last; ++i)
      CHECK(std::find(ids.begin(), ids.end(), "org/model-" + std::to_string(round * 100000 + i)) != ids.end());
  }
}

namespace {
std::set<std::string> files_in(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

struct stat_info {
  unsigned mode;
  uid_t uid;
  gid_t gid;
};
stat_info stat_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return {static_cast<unsigned>(st.st_mode & 07777), st.st_uid, st.st_gid};
}

/// Runs `body` in a child process; its exit status (0 when body returns true).
template <class Body>
int in_child(Body body) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(body() ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

TEST_CASE("a reader takes no lock and creates nothing; its writes are refused") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 3; ++i) REQUIRE(mm.add_model(numbered(i)));
  }
  auto before = files_in(dir.path);
  auto bytes = hfmm_test::slurp(store);
  hfmm::json_model_manager writer(hfmm::json_file_storage{store});  // holds the lock
  REQUIRE(writer.add_model(numbered(3)));                           // in the journal only
  {
    hfmm::json_model_manager reader(hfmm::json_file_storage(store, hfmm::open_mode::read_only));
    CHECK(reader.size() == 4);  // the file and the journal's acknowledged record
    CHECK(reader.get_model_file_hash("org/model-3", "config.json") == std::string(40, 'b'));
    CHECK(reader.add_model(numbered(9)).error() == hfmm::errc::storage_read_only);
    CHECK(reader.remove_model("org/model-0").error() == hfmm::errc::storage_read_only);
    CHECK(reader.storage().compact().error() == hfmm::errc::storage_read_only);
    CHECK(reader.size() == 4);
  }
  CHECK(hfmm_test::slurp(store) == bytes);
  auto after = files_in(dir.path);
  after.erase("catalog.json.journal");  // the writer's
  CHECK(after == before);
}

TEST_CASE("a reader in another process sees every acknowledged model while a writer appends and compacts") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  hfmm::json_file_storage s(store);
  s.compact_threshold = 16 * 1024;  // compactions happen while the reader reads
  s.compact_on_close_bytes = 0;
  hfmm::json_model_manager writer(std::move(s));
  for (int i = 0; i < 10; ++i) REQUIRE(writer.add_model(numbered(i)));
  int ack[2];
  REQUIRE(::pipe(ack) == 0);
  pid_t child = ::fork();
  if (child == 0) {  // the reader: each open sees at least what was acknowledged before it
    ::close(ack[1]);
    int acknowledged = 10, n;
    for (int round = 0; round < 60; ++round) {
      if (::read(ack[0], &n, sizeof n) == sizeof n) acknowledged = n;  // a lower bound: acks lag
      auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage(store, hfmm::open_mode::read_only));
      if (!mm) ::_exit(2);
      if (mm->size() < static_cast<std::size_t>(acknowledged)) ::_exit(3);
      for (int i = 0; i < acknowledged; ++i)
        if (!mm->get_model("org/model-" + std::to_string(i))) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(ack[0]);
  // A reader done before the writer closes its end: the write then fails with EPIPE (break),
  // instead of SIGPIPE killing this process.
  auto previous = std::signal(SIGPIPE, SIG_IGN);
  for (int i = 10; i < 400; ++i) {
    REQUIRE(writer.add_model(numbered(i)));
    int n = i + 1;
    if (::write(ack[1], &n, sizeof n) != sizeof n) break;  // the reader is done
  }
  ::close(ack[1]);
  std::signal(SIGPIPE, previous);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::filesystem::exists(store));  // compacted on the way
}

TEST_CASE("a catalog in a directory nobody may write answers queries") {
  hfmm_test::scratch_dir dir;
  auto sub = dir / "ro";
  std::filesystem::create_directories(sub);
  auto store = sub / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    REQUIRE(mm.add_model(numbered(1)));
  }
  auto before = files_in(sub);  // the writer left its lock file
  ::chmod(store.c_str(), 0444);
  ::chmod(sub.c_str(), 0555);
  ::chmod(dir.path.c_str(), 0755);
  // As a user without write permission (root writes anywhere: the child drops to nobody).
  int code = in_child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return false;
    if (::access(sub.c_str(), W_OK) == 0) return false;  // the premise: the directory is not writable
    auto reader = hfmm::json_model_manager::open(hfmm::json_file_storage(store, hfmm::open_mode::read_only));
    if (!reader || reader->get_model_file_hash("org/model-1", "config.json") != std::string(40, 'b')) return false;
    auto writer = hfmm::json_model_manager::open(hfmm::json_file_storage(store));
    return !writer && writer.error() == hfmm::errc::storage_read_only;  // the file's mode says no
  });
  CHECK(code == 0);
  CHECK(files_in(sub) == before);
  ::chmod(sub.c_str(), 0755);
}

TEST_CASE("a compaction keeps the file's mode, owner and group") {
  for (unsigned mode : {0600u, 0640u}) {
    hfmm_test::scratch_dir dir;
    auto store = dir / "catalog.json";
    {
      hfmm::json_model_manager mm(hfmm::json_file_storage{store});
      REQUIRE(mm.add_model(numbered(0)));
    }
    ::chmod(store.c_str(), mode);
    bool root = ::geteuid() == 0;
    if (root) REQUIRE(::chown(store.c_str(), 65534, 65534) == 0);  // another owner, as a shared catalog has
    auto before = stat_of(store);
    {
      hfmm::json_model_manager mm(hfmm::json_file_storage{store});
      REQUIRE(mm.add_model(numbered(1)));
      REQUIRE(mm.storage().compact());
      CHECK_FALSE(std::filesystem::exists(mm.storage().journal_path()));
    }
    auto after = stat_of(store);
    CHECK(after.mode == mode);
    CHECK(after.uid == before.uid);
    CHECK(after.gid == before.gid);
    if (root) CHECK(after.uid == 65534u);
    CHECK(ids_in(store).size() == 2);
  }
}

TEST_CASE("a read-only file is not replaced, and JSON that is not a catalog is refused untouched") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    REQUIRE(mm.add_model(numbered(0)));
  }
  ::chmod(store.c_str(), 0444);
  auto before = files_in(dir.path);
  hfmm::diagnostics why;
  auto writer = hfmm::json_model_manager::open(hfmm::json_file_storage{store}, {}, why);
  REQUIRE_FALSE(writer);
  CHECK(writer.error() == hfmm::errc::storage_read_only);
  CHECK(why.message().find("read-only (mode 0444)") != std::string::npos);
  CHECK(stat_of(store).mode == 0444u);

  auto tsconfig = dir / "tsconfig.json";
  std::string text = R"({"compilerOptions": {"target": "es5", "strict": true}, "include": ["src"]})";
  hfmm_test::spit(tsconfig, text);
  auto mm = hfmm::json_model_manager::open(hfmm::json_file_storage{tsconfig}, {}, why);
  REQUIRE_FALSE(mm);
  CHECK(mm.error() == hfmm::errc::storage_corrupt);
  CHECK(why.message().find("tsconfig.json") != std::string::npos);
  CHECK(why.message().find("not a model catalog") != std::string::npos);
  CHECK(why.message().find("\"compilerOptions\"") != std::string::npos);
  CHECK(hfmm_test::slurp(tsconfig) == text);
  before.insert({"tsconfig.json", "tsconfig.json.lock"});  // the writer's lock, nothing else
  CHECK(files_in(dir.path) == before);
  // The constructor's exception says the same.
  try {
    hfmm::json_model_manager thrown{hfmm::json_file_storage{tsconfig}};
    FAIL("opened a file that is not a catalog");
  } catch (const boost::system::system_error& e) {
    CHECK(std::string(e.what()).find("not a model catalog") != std::string::npos);
  }
  // A directory given as the store says so.
  auto as_dir = hfmm::json_model_manager::open(hfmm::json_file_storage{dir.path}, {}, why);
  REQUIRE_FALSE(as_dir);
  CHECK(why.message().find("is a directory") != std::string::npos);
}

TEST_CASE("compaction policy: a large catalog keeps its journal at close until compact(); every path agrees") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 20; ++i) REQUIRE(mm.add_model(numbered(i)));
  }
  auto base = hfmm_test::slurp(store);
  std::vector<std::string> ids;
  {
    hfmm::json_file_storage s(store);
    s.compact_on_close_bytes = 0;  // as a catalog larger than the policy's bound
    hfmm::json_model_manager mm(std::move(s));
    REQUIRE(mm.add_model(numbered(100)));
    REQUIRE(mm.remove_model("org/model-3"));
    auto changed = numbered(5);
    changed.description = "changed in place";
    REQUIRE(mm.add_model(changed));
    for (auto* m : mm.list_models()) ids.push_back(m->model_id);
  }
  CHECK(hfmm_test::slurp(store) == base);  // what the Python Model Manager reads is unchanged
  CHECK(std::filesystem::exists(dir / "catalog.json.journal"));
  CHECK(ids_in(store) == ids);  // hfmm sees the journal
  {
    hfmm::json_file_storage s(store);
    s.compact_on_close_bytes = 0;
    hfmm::json_model_manager mm(std::move(s));
    REQUIRE(mm.storage().compact());  // what `hfmm compact` does
  }
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.journal"));
  auto root = boost::json::parse(hfmm_test::slurp(store)).as_object();
  std::vector<std::string> keys;
  for (auto& kv : root) keys.emplace_back(kv.key());
  CHECK(keys == ids);  // the Python layout, in catalog order
  CHECK(root.at("org/model-5").at("description") == "changed in place");
  CHECK(ids_in(store) == ids);
}

TEST_CASE("find_model and find_models_with_file answer as the loaded catalog does, without loading it") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  std::mt19937 rng(7);
  const std::vector<std::string> paths = {"config.json", "onnx/model.onnx", "Model.SafeTensors", "sub3/tokenizer.json", "a"};
  auto model = [&](int i) {
    hfmm::model_metadata m;
    m.model_id = "org/m" + std::to_string(i);
    m.description = "v" + std::to_string(rng() % 1000);
    hfmm::repo_structure s{.model_id = m.model_id};
    for (const auto& p : paths)
      if (rng() % 2) s.files.insert(p, {.size = 1, .oid = std::string(40, 'c')});
    if (rng() % 6) m.repository_structure = std::move(s);
    return m;
  };
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 200; ++i) REQUIRE(mm.add_model(model(i)));
  }
  // A record filed under another key than its model_id, as a hand-edited file may have.
  auto text = hfmm_test::slurp(store);
  auto at = text.find("\"org/m7\":");
  REQUIRE(at != std::string::npos);
  text.replace(at, 9, "\"alias-7\":");
  // And a second record for a model, later in the file: its content counts, at the first's place.
  text.pop_back();
  text += R"(,"zz-again":{"model_id":"org/m9","description":"the later record"}})";
  hfmm_test::spit(store, text);
  for (int round = 0; round < 3; ++round) {
    {  // a writer leaves changes in the journal: replacements, removals, new models, a re-added one
      hfmm::json_file_storage s(store);
      s.compact_on_close_bytes = 0;
      hfmm::json_model_manager mm(std::move(s));
      for (int k = 0; k < 40; ++k) {
        int i = static_cast<int>(rng() % 260);
        if (rng() % 4 == 0) (void)mm.remove_model("org/m" + std::to_string(i));
        else REQUIRE(mm.add_model(model(i)));
      }
    }
    hfmm::json_model_manager loaded(hfmm::json_file_storage(store, hfmm::open_mode::read_only));
    hfmm::json_file_storage queries(store, hfmm::open_mode::read_only);
    REQUIRE(queries.open());
    for (int i = 0; i < 270; i += 3) {
      auto id = "org/m" + std::to_string(i);
      auto found = queries.find_model(id);
      REQUIRE(found);
      const auto* expected = loaded.get_model(id);
      REQUIRE(found->has_value() == (expected != nullptr));
      if (expected) CHECK(**found == *expected);
    }
    for (std::string pattern : {"config.json", "SAFETENSORS", "onnx/", "sub3/", "a", "", "absent", "x\ny"}) {
      auto found = queries.find_models_with_file(pattern);
      REQUIRE(found);
      auto expected = loaded.get_models_with_file(pattern);
      REQUIRE(found->size() == expected.size());
      for (std::size_t k = 0; k < expected.size(); ++k) CHECK((*found)[k] == *expected[k]);
    }
  }
  CHECK(std::filesystem::exists(dir / "catalog.json.journal"));
}

TEST_CASE("a writer appends without loading the catalog; the next load sees it") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage{store});
    for (int i = 0; i < 5; ++i) REQUIRE(mm.add_model(numbered(i)));
  }
  auto base = hfmm_test::slurp(store);
  for (int round = 0; round < 2; ++round) {  // the second round appends to the journal the first left
    hfmm::json_file_storage s(store);
    s.compact_on_close_bytes = 0;
    REQUIRE(s.open());
    REQUIRE(s.upsert(numbered(10 + round)));
    REQUIRE(s.erase("org/model-" + std::to_string(round)));
    REQUIRE(s.close());
  }
  CHECK(hfmm_test::slurp(store) == base);
  CHECK(ids_in(store) == std::vector<std::string>{"org/model-2", "org/model-3", "org/model-4", "org/model-10", "org/model-11"});
  {  // compact() without load() loads first
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.compact());
    REQUIRE(s.close());
  }
  CHECK_FALSE(std::filesystem::exists(dir / "catalog.json.journal"));
  CHECK(ids_in(store) == std::vector<std::string>{"org/model-2", "org/model-3", "org/model-4", "org/model-10", "org/model-11"});
}
