// What docs/security.md promises about threads, exercised with real threads (and run under
// ThreadSanitizer by scripts/sanitize): concurrent readers of one manager, the first of whom
// builds the lazy indexes; two managers refreshing on two threads at once; verify's workers.

#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>
#include <hfmm/detail/digest.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <thread>

namespace {

/// A catalog of the recorded repositories plus synthetic ones, structures fetched through
/// the recorded Hub.
hfmm::offline_model_manager recorded_catalog() {
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hfmm_test::recorded_hub());
  for (std::string id : {"wzshiming/gpt2", "google-bert/bert-base-uncased", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
    auto m = hfmm::create_model_from_huggingface(mm.fetcher(), id, {});
    REQUIRE(m.repository_structure);
    REQUIRE(mm.add_model(std::move(m)));
  }
  for (int i = 0; i < 200; ++i) {
    auto m = *mm.get_model("wzshiming/gpt2");
    m.model_id = "copy/gpt2-" + std::to_string(i);
    REQUIRE(mm.add_model(std::move(m)));
  }
  return mm;
}

struct answers {
  std::size_t with_config = 0, with_onnx = 0, absent = 0, content = 0, models = 0;
  std::optional<std::string> config_hash;
  bool operator==(const answers&) const = default;
};

answers ask(const hfmm::offline_model_manager& mm) {
  answers a;
  a.with_config = mm.get_models_with_file("config.json").size();
  a.with_onnx = mm.get_models_with_file("onnx/decoder_model").size();
  a.absent = mm.get_models_with_file("nonexistent.file").size();
  a.config_hash = mm.get_model_file_hash("copy/gpt2-17", "config.json");
  if (a.config_hash) a.content = mm.find_models_with_content(*a.config_hash).size();
  a.models = mm.list_models().size() + mm.get_stats().total_models;
  return a;
}

}  // namespace

TEST_CASE("threads: concurrent readers of one manager agree with one reader, indexes built once") {
  const auto expected = [] {
    auto mm = recorded_catalog();
    return ask(mm);
  }();
  CHECK(expected.with_config == 203);  // the copies, gpt2, bert, parakeet
  CHECK(expected.with_onnx == 201);
  CHECK(expected.absent == 0);
  REQUIRE(expected.config_hash);

  auto mm = recorded_catalog();  // fresh: no index is built yet
  constexpr int readers = 6;
  std::barrier start(readers);
  std::vector<answers> got(readers);
  {
    std::vector<std::jthread> pool;
    for (int t = 0; t < readers; ++t)
      pool.emplace_back([&, t] {
        start.arrive_and_wait();  // all at once, racing to build the indexes
        for (int round = 0; round < 20; ++round) got[t] = ask(mm);
      });
  }
  for (const auto& a : got) CHECK(a == expected);
}

TEST_CASE("threads: two managers refresh on two threads at once, each with its own store") {
  hfmm_test::scratch_dir dir;
  auto run = [&](int which, hfmm::refresh_report& report) {
    hfmm::json_file_storage store(dir / ("catalog-" + std::to_string(which) + ".json"));
    hfmm::model_manager<hfmm::json_file_storage, hfmm::mock_fetcher> mm(std::move(store), hfmm_test::recorded_hub());
    for (std::string id : {"wzshiming/gpt2", "google-bert/bert-base-uncased", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
      hfmm::model_metadata m;
      m.model_id = id;
      if (!mm.add_model(m)) return;
    }
    report = mm.refresh_all({.concurrency = 3});
  };
  hfmm::refresh_report a, b;
  {
    std::jthread first(run, 1, std::ref(a));
    std::jthread second(run, 2, std::ref(b));
  }
  for (const auto* r : {&a, &b}) {
    REQUIRE(r->items.size() == 3);
    CHECK(r->failed() == 0);
  }
  hfmm::json_model_manager reread(hfmm::json_file_storage(dir / "catalog-2.json"));
  CHECK(reread.get_model_file_hash("wzshiming/gpt2", "config.json") ==
        std::optional<std::string>("10c66461e4c109db5a2196bff4bb59be30396ed8"));
}

TEST_CASE("threads: verify's workers share one report and call on_progress one at a time") {
  hfmm_test::scratch_dir dir;
  hfmm::repo_structure s{.model_id = "org/many"};
  for (int i = 0; i < 64; ++i) {
    auto content = std::string(static_cast<std::size_t>(1000 + i * 977), static_cast<char>('a' + i % 26));
    auto path = "dir" + std::to_string(i % 5) + "/file" + std::to_string(i) + ".bin";
    std::filesystem::create_directories((dir / path).parent_path());
    hfmm_test::spit(dir / path, i == 13 ? content + "x" : content);  // one damaged copy
    s.files.insert(path, {.size = content.size(), .oid = hfmm::detail::git_blob_oid(content)});
  }
  // Callbacks in flight, counted atomically (a plain flag would itself be the race): a callback
  // that overlapped another sees 2. The sleep gives an overlap time to show.
  std::atomic<int> in_flight{0}, most{0};
  std::atomic<std::size_t> calls{0};
  auto report = hfmm::verify_local_files(s, dir.path, {.threads = 4, .on_progress = [&](const hfmm::verify_progress&) {
                                                         int now = ++in_flight;
                                                         for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
                                                         }
                                                         std::this_thread::sleep_for(std::chrono::microseconds(200));
                                                         ++calls;
                                                         --in_flight;
                                                       }});
  REQUIRE(report);
  CHECK(calls == 64);
  CHECK(most.load() == 1);
  CHECK(report->checked == 64);
  CHECK_FALSE(report->ok());
}

TEST_CASE("threads: tables built on four threads at once share the path pool safely") {
  // Half the paths are common to every thread (interned by whichever comes first), half are
  // the thread's own; each thread reads its tables back while the others keep interning.
  constexpr int threads = 4, tables = 200;
  std::vector<std::vector<hfmm::file_table>> built(threads);
  std::barrier start(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < tables; ++i) {
        hfmm::file_table table;
        for (int f = 0; f < 20; ++f) {
          auto path = f % 2 ? "shared/file-" + std::to_string(i * 20 + f)
                            : "t" + std::to_string(t) + "/file-" + std::to_string(i * 20 + f);
          table.insert(path, {.size = static_cast<std::uint64_t>(f), .oid = std::string(40, '0')});
        }
        built[t].push_back(std::move(table));
      }
    });
  for (auto& w : workers) w.join();
  for (int t = 0; t < threads; ++t) {
    REQUIRE(built[t].size() == tables);
    for (int i = 0; i < tables; ++i) {
      const auto& table = built[t][i];
      REQUIRE(table.size() == 20);
      for (int f = 0; f < 20; ++f) {
        auto path = f % 2 ? "shared/file-" + std::to_string(i * 20 + f)
                          : "t" + std::to_string(t) + "/file-" + std::to_string(i * 20 + f);
        auto ref = table.find_ref(path);
        REQUIRE(ref);
        CHECK(ref->size() == static_cast<std::uint64_t>(f));
      }
    }
  }
  // The shared paths were interned once: every thread's table holds the same ids.
  CHECK(built[0][7].find_ref("shared/file-141")->path().data() == built[3][7].find_ref("shared/file-141")->path().data());
}
