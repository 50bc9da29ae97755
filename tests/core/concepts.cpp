#include <hfmm/hfmm.hpp>

#include "../support/doctest_result.hpp"
#include <limits>
#include <set>
#include "../support/test_support.hpp"

namespace {
// The smallest types that model the policies.
struct archetype_storage {
  hfmm::result<void> open() { return {}; }
  hfmm::result<std::vector<hfmm::model_metadata>> load() { return std::vector<hfmm::model_metadata>{}; }
  hfmm::result<void> upsert(const hfmm::model_metadata&) { return {}; }
  hfmm::result<void> upsert_many(std::span<const hfmm::model_metadata>) { return {}; }
  hfmm::result<void> erase(std::string_view) { return {}; }
  hfmm::result<void> close() { return {}; }
};
struct archetype_fetcher {
  boost::asio::awaitable<hfmm::result<hfmm::repo_structure>> async_fetch_structure(std::string_view, std::string_view) {
    co_return hfmm::errc::offline;
  }
};
/// The smallest queryable store: it answers from a vector and counts full loads, which queried
/// mode must never need for the questions the store answers.
struct archetype_queryable_storage : archetype_storage {
  std::vector<hfmm::model_metadata> models;
  int* loads = nullptr;
  hfmm::result<std::vector<hfmm::model_metadata>> load() {
    ++*loads;
    return models;
  }
  hfmm::result<void> upsert(const hfmm::model_metadata& m) {
    for (auto& old : models)
      if (old.model_id == m.model_id) return old = m, hfmm::result<void>{};
    models.push_back(m);
    return {};
  }
  hfmm::result<void> erase(std::string_view id) {
    std::erase_if(models, [&](const auto& m) { return m.model_id == id; });
    return {};
  }
  hfmm::result<std::size_t> model_count() { return models.size(); }
  hfmm::result<bool> contains(std::string_view id) { return find(id) != nullptr; }
  hfmm::result<std::optional<hfmm::model_metadata>> find_model(std::string_view id) {
    const auto* m = find(id);
    return m ? std::optional(*m) : std::nullopt;
  }
  hfmm::result<std::vector<hfmm::model_metadata>> find_models(std::span<const std::string> ids) {
    std::vector<hfmm::model_metadata> out;
    for (const auto& m : models)
      if (std::find(ids.begin(), ids.end(), m.model_id) != ids.end()) out.push_back(m);
    return out;
  }
  hfmm::result<std::vector<hfmm::model_pin>> model_pins() {
    std::vector<hfmm::model_pin> out;
    for (const auto& m : models) out.push_back({.model_id = m.model_id});
    return out;
  }
  hfmm::result<std::vector<std::string>> models_with_path(std::string_view pattern) {
    std::vector<std::string> out;
    for (const auto& m : models)
      if (m.repository_structure)
        for (auto f : m.repository_structure->files)
          if (f.path().find(pattern) != std::string_view::npos) {
            out.push_back(m.model_id);
            break;
          }
    return out;
  }
  hfmm::result<std::vector<hfmm::stored_path>> files_with_content(std::string_view) { return std::vector<hfmm::stored_path>{}; }
  hfmm::result<hfmm::manager_stats> stats() { return hfmm::manager_stats{.total_models = models.size()}; }
  hfmm::result<std::vector<std::string>> models_matching(const hfmm::record_query& q) {
    std::vector<std::string> out;
    for (const auto& m : models)
      if (q.matches(m)) out.push_back(m.model_id);
    return out;
  }

private:
  const hfmm::model_metadata* find(std::string_view id) const {
    for (const auto& m : models)
      if (m.model_id == id) return &m;
    return nullptr;
  }
};
/// A queryable store that also writes a stream of batches as one transaction (a copy kept to
/// roll back to), counting the batches.
struct archetype_batch_storage : archetype_queryable_storage {
  int batches = 0;
  hfmm::result<void> upsert_batches(const std::function<hfmm::result<void>(const hfmm::batch_writer&)>& produce) {
    auto before = models;
    hfmm::batch_writer write = [&](std::span<const hfmm::model_metadata> batch) -> hfmm::result<void> {
      ++batches;
      for (const auto& m : batch) (void)upsert(m);
      return {};
    };
    auto ok = produce(write);
    if (!ok) models = std::move(before);
    return ok;
  }
};
/// A queryable store that also reads its catalog in batches (of two models), counting them.
struct archetype_reading_storage : archetype_queryable_storage {
  int batches = 0;
  hfmm::result<void> read_batches(const hfmm::batch_reader& consume) {
    for (std::size_t first = 0; first < models.size(); first += 2) {
      ++batches;
      if (auto ok = consume(std::span(models).subspan(first, std::min<std::size_t>(2, models.size() - first))); !ok) return ok;
    }
    return {};
  }
};
/// A queryable store that also answers get_similar_models' questions, by brute force,
/// counting the extents it was asked for.
struct archetype_similarity_storage : archetype_queryable_storage {
  std::size_t extents_asked = 0;
  static std::set<std::string> contents_of(const hfmm::model_metadata& m) {
    std::set<std::string> out;
    if (m.repository_structure)
      for (auto f : m.repository_structure->files) out.insert(f.lfs() ? f.lfs()->sha256 : f.oid());
    return out;
  }
  hfmm::result<std::vector<hfmm::model_overlap>> model_overlaps(std::string_view id) {
    std::vector<hfmm::model_overlap> out;
    auto target = std::find_if(models.begin(), models.end(), [&](const auto& m) { return m.model_id == id; });
    if (target == models.end() || !target->repository_structure) return out;
    auto target_contents = contents_of(*target);
    for (const auto& m : models) {
      if (m.model_id == id || !m.repository_structure) continue;
      hfmm::model_overlap o{.model_id = m.model_id, .files = m.repository_structure->files.size()};
      for (auto f : m.repository_structure->files) o.shared_paths += target->repository_structure->files.contains(f.path());
      for (const auto& c : contents_of(m)) o.shared_contents += target_contents.contains(c);
      if (o.shared_paths || o.shared_contents) out.push_back(o);
    }
    return out;
  }
  hfmm::result<std::vector<hfmm::model_extent>> model_extents(std::span<const std::string> ids) {
    extents_asked += ids.size();
    std::vector<hfmm::model_extent> out;
    for (const auto& id : ids) {
      auto& e = out.emplace_back();
      for (const auto& m : models)
        if (m.model_id == id && m.repository_structure) e.contents = contents_of(m).size();
    }
    return out;
  }
};
struct similarity_without_extents : archetype_similarity_storage {
  void model_extents() = delete;
};
struct queryable_without_stats : archetype_queryable_storage {
  void stats() = delete;
};
struct queryable_without_record_queries : archetype_queryable_storage {
  void models_matching() = delete;
};
struct storage_without_erase {
  hfmm::result<void> open();
  hfmm::result<std::vector<hfmm::model_metadata>> load();
  hfmm::result<void> upsert(const hfmm::model_metadata&);
  hfmm::result<void> upsert_many(std::span<const hfmm::model_metadata>);
  hfmm::result<void> close();
};
struct storage_with_bool_results : archetype_storage {
  bool open();
};
struct blocking_fetcher {
  hfmm::result<hfmm::repo_structure> async_fetch_structure(std::string_view, std::string_view);
};
struct immovable_fetcher : archetype_fetcher {
  immovable_fetcher() = default;
  immovable_fetcher(immovable_fetcher&&) = delete;
};
}  // namespace

static_assert(hfmm::storage<archetype_storage>);
static_assert(hfmm::storage<hfmm::memory_storage>);
static_assert(hfmm::storage<hfmm::json_file_storage>);
static_assert(!hfmm::storage<int>);
static_assert(!hfmm::storage<storage_without_erase>);
static_assert(!hfmm::storage<storage_with_bool_results>);
static_assert(!hfmm::reloadable_storage<hfmm::memory_storage>);
static_assert(hfmm::queryable_storage<archetype_queryable_storage>);
static_assert(!hfmm::queryable_storage<queryable_without_stats>);
static_assert(!hfmm::queryable_storage<queryable_without_record_queries>);
static_assert(!hfmm::queryable_storage<archetype_storage>);
static_assert(!hfmm::queryable_storage<hfmm::memory_storage>);     // resident: loaded, indexed in memory
static_assert(!hfmm::queryable_storage<hfmm::json_file_storage>);  // the same (its find_model serves the CLI)
static_assert(hfmm::batch_writing_storage<archetype_batch_storage>);
static_assert(!hfmm::batch_writing_storage<archetype_queryable_storage>);
static_assert(!hfmm::batch_writing_storage<hfmm::memory_storage>);
static_assert(hfmm::batch_reading_storage<archetype_reading_storage>);
static_assert(!hfmm::batch_reading_storage<archetype_queryable_storage>);
static_assert(!hfmm::batch_reading_storage<hfmm::memory_storage>);
static_assert(!hfmm::batch_reading_storage<hfmm::json_file_storage>);
static_assert(hfmm::similarity_storage<archetype_similarity_storage>);
static_assert(!hfmm::similarity_storage<similarity_without_extents>);
static_assert(!hfmm::similarity_storage<archetype_queryable_storage>);
static_assert(!hfmm::similarity_storage<hfmm::memory_storage>);
static_assert(!hfmm::similarity_storage<hfmm::json_file_storage>);
static_assert(hfmm::fetcher<archetype_fetcher>);
static_assert(!hfmm::revision_resolving_fetcher<archetype_fetcher>);
static_assert(hfmm::revision_resolving_fetcher<hfmm::mock_fetcher>);
static_assert(!hfmm::model_info_fetcher<archetype_fetcher>);
static_assert(hfmm::model_info_fetcher<hfmm::mock_fetcher>);
static_assert(!hfmm::fetcher<blocking_fetcher>);
static_assert(!hfmm::fetcher<immovable_fetcher>);
static_assert(!hfmm::fetcher<hfmm::memory_storage>);

TEST_CASE("a manager instantiates over the archetypes") {
  hfmm::model_manager<archetype_storage, archetype_fetcher> mm(archetype_storage{});
  CHECK(mm.add_model({.model_id = "a"}));
  CHECK(mm.refresh_repository_structure("a").error() == hfmm::errc::offline);
  auto report = mm.refresh_all();
  CHECK(report.failed() == 1);
  CHECK(report.requests == 0);  // the archetype does not count requests
  CHECK(mm.close());
  CHECK(mm.close());  // idempotent
}

TEST_CASE("a manager over a queryable store asks it and never loads the catalog for what it answers") {
  int loads = 0;
  archetype_queryable_storage store;
  store.loads = &loads;
  hfmm::model_manager<archetype_queryable_storage, archetype_fetcher> mm(std::move(store));
  hfmm::model_metadata m{.model_id = "org/a"};
  m.repository_structure = hfmm::repo_structure{.model_id = "org/a"};
  m.repository_structure->files.insert("config.json", {.size = 1, .oid = std::string(40, 'a')});
  REQUIRE(mm.add_model(m));
  REQUIRE(mm.add_model({.model_id = "org/b"}));
  const auto* a = mm.get_model("org/a");
  REQUIRE(a);
  CHECK(mm.get_model("org/a") == a);  // materialized once, until the next mutation
  CHECK(mm.get_model("org/none") == nullptr);
  CHECK(mm.get_model_file_hash("org/a", "config.json") == std::string(40, 'a'));
  auto with = mm.get_models_with_file("config");
  REQUIRE(with.size() == 1);
  CHECK(with[0] == a);
  CHECK(mm.get_model_ids_with_file("config") == std::vector<std::string>{"org/a"});
  CHECK(mm.query_model_ids({.text = "absent"}).empty());
  CHECK(mm.size() == 2);
  CHECK(mm.get_stats().total_models == 2);
  CHECK(mm.remove_model("org/b"));
  CHECK(mm.remove_model("org/b").error() == hfmm::errc::model_not_found);
  CHECK(mm.size() == 1);
  CHECK(mm.list_models().size() == 1);
  CHECK(mm.search_models("ORG").empty());  // names and tags, not ids
  CHECK(mm.get_models_by_input_type(hfmm::data_type::text).empty());
  CHECK(loads == 0);
  CHECK(mm.get_duplicate_report().groups.empty());  // not answered by the store: one load
  CHECK(loads == 1);
  CHECK(!mm.query_error());
}

TEST_CASE("a manager over a batch-writing store streams an import into it, all or nothing") {
  hfmm_test::scratch_dir dir;
  {
    hfmm::offline_model_manager source(hfmm::memory_storage{});
    REQUIRE(source.add_model({.model_id = "org/a", .model_name = "a"}));
    REQUIRE(source.add_model({.model_id = "org/b", .model_name = "b"}));
    REQUIRE(source.export_metadata(dir / "catalog.json"));
  }
  auto text = hfmm_test::slurp(dir / "catalog.json");
  hfmm_test::spit(dir / "truncated.json", text.substr(0, text.size() - 2));
  int loads = 0;
  archetype_batch_storage store;
  store.loads = &loads;
  hfmm::model_manager<archetype_batch_storage, archetype_fetcher> mm(std::move(store));
  CHECK(mm.import_metadata(dir / "truncated.json").error() == hfmm::errc::storage_corrupt);
  CHECK(mm.storage().batches == 0);  // found before the first batch was full: nothing written
  CHECK(mm.size() == 0);
  REQUIRE(mm.import_metadata(dir / "catalog.json"));
  CHECK(mm.storage().batches == 1);
  CHECK(mm.size() == 2);
  CHECK(mm.get_model("org/b")->model_name == "b");
  CHECK(loads == 0);
}

TEST_CASE("a manager over a batch-reading store exports batch by batch, never loading the catalog") {
  hfmm_test::scratch_dir dir;
  int loads = 0;
  archetype_reading_storage store;
  store.loads = &loads;
  hfmm::model_manager<archetype_reading_storage, archetype_fetcher> mm(std::move(store));
  for (const char* id : {"org/a", "org/b", "org/c"}) {
    hfmm::model_metadata m{.model_id = id, .model_name = id};
    REQUIRE(mm.add_model(m));
  }
  REQUIRE(mm.export_metadata(dir / "streamed.json"));
  CHECK(mm.storage().batches == 2);
  CHECK(loads == 0);
  // It reads back as the catalog the store holds, in its order.
  hfmm::model_manager<hfmm::json_file_storage, hfmm::mock_fetcher> back(hfmm::json_file_storage(dir / "streamed.json"));
  REQUIRE(back.size() == 3);
  std::vector<std::string> order;
  for (const auto* m : back.list_models()) order.push_back(m->model_id);
  CHECK(order == std::vector<std::string>{"org/a", "org/b", "org/c"});
  for (const auto& m : mm.storage().models) CHECK(*back.get_model(m.model_id) == m);

  // A record JSON cannot carry, found in the second batch: the export fails and the file it
  // would have replaced is untouched, with no temp file left beside it.
  hfmm::model_metadata bad{.model_id = "org/d", .model_name = "d"};
  bad.performance_metrics = boost::json::object{{"latency", std::numeric_limits<double>::infinity()}};
  REQUIRE(mm.add_model(bad));
  auto before = hfmm_test::slurp(dir / "streamed.json");
  CHECK(mm.export_metadata(dir / "streamed.json").error() == hfmm::errc::invalid_argument);
  CHECK(hfmm_test::slurp(dir / "streamed.json") == before);
  CHECK_FALSE(std::filesystem::exists(dir / "streamed.json.tmp"));
  CHECK(loads == 0);
}

TEST_CASE("a manager over a similarity store ranks as the resident one, asking only the extents it needs") {
  int loads = 0;
  archetype_similarity_storage store;
  store.loads = &loads;
  hfmm::model_manager<archetype_similarity_storage, archetype_fetcher> queried(std::move(store));
  hfmm::offline_model_manager resident(hfmm::memory_storage{});
  // The target holds three files. m1 and m3 are copies of it (a tie: the earlier first), m2 has
  // its paths with other weights; m4..m60 share only .gitattributes, each with its own files.
  auto model = [](int i, std::string_view weights, int own_files) {
    hfmm::model_metadata m{.model_id = "org/m" + std::to_string(i)};
    m.repository_structure = hfmm::repo_structure{.model_id = m.model_id};
    auto& files = m.repository_structure->files;
    files.insert(".gitattributes", {.size = 5, .oid = std::string(40, 'a')});
    if (!weights.empty()) {
      files.insert("config.json", {.size = 10, .oid = std::string(40, 'c')});
      files.insert("model.bin", {.size = 7, .oid = std::string(weights)});
    }
    for (int f = 0; f < own_files; ++f)
      files.insert("part-" + std::to_string(f) + ".bin", {.size = 7, .oid = std::string(38, 'd') + std::to_string(10 + f)});
    return m;
  };
  auto weights = std::string(40, 'e'), other_weights = std::string(40, 'f');
  std::vector<hfmm::model_metadata> all{model(0, weights, 0), model(1, weights, 0), model(2, other_weights, 0),
                                        model(3, weights, 0)};
  for (int i = 4; i <= 60; ++i) all.push_back(model(i, "", i % 7));
  all.push_back({.model_id = "org/no-structure"});
  for (const auto& m : all) {
    REQUIRE(queried.add_model(m));
    REQUIRE(resident.add_model(m));
  }
  for (std::size_t limit : {1, 3, 10, 100}) {
    auto q = queried.get_similar_models("org/m0", limit), r = resident.get_similar_models("org/m0", limit);
    REQUIRE(q.size() == r.size());
    CHECK(q.size() == std::min<std::size_t>(limit, 60));
    for (std::size_t i = 0; i < q.size(); ++i) {
      CHECK(q[i].model->model_id == r[i].model->model_id);
      CHECK(q[i].path_jaccard == r[i].path_jaccard);
      CHECK(q[i].content_jaccard == r[i].content_jaccard);
    }
  }
  auto top = queried.get_similar_models("org/m0", 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].model->model_id == "org/m1");  // the earlier of the tie
  CHECK(top[1].model->model_id == "org/m3");
  CHECK(top[2].model->model_id == "org/m2");
  // The best bounds are asked first: after the first 16 extents no other model can enter the
  // top 3 (each of the rest scores at most 1/3 + 1/3), so none of them is read.
  queried.storage().extents_asked = 0;
  CHECK(queried.get_similar_models("org/m0", 3).size() == 3);
  CHECK(queried.storage().extents_asked == 16);
  queried.storage().extents_asked = 0;
  CHECK(queried.get_similar_models("org/m0", 100).size() == 60);
  CHECK(queried.storage().extents_asked == 60);
  // 30 more copies of the target: ties at the top are settled in catalog order, and a model
  // that could at best tie the last of the answer, later in the catalog, is not read either.
  for (int i = 61; i <= 90; ++i) {
    REQUIRE(queried.add_model(model(i, weights, 0)));
    REQUIRE(resident.add_model(model(i, weights, 0)));
  }
  queried.storage().extents_asked = 0;
  auto copies = queried.get_similar_models("org/m0", 5), expected = resident.get_similar_models("org/m0", 5);
  CHECK(queried.storage().extents_asked == 16);
  REQUIRE(copies.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(copies[i].model->model_id == expected[i].model->model_id);
  CHECK(copies[4].model->model_id == "org/m63");
  CHECK(queried.get_similar_models("org/no-structure").empty());
  CHECK(queried.get_similar_models("org/absent").empty());
  CHECK(loads == 0);
}
