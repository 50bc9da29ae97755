#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>

#include <boost/json/parse.hpp>

#include <random>
#include <set>

namespace {
hfmm::model_metadata model(std::string id, hfmm::model_type type, std::string arch, std::vector<std::string> tags,
                           hfmm::data_type in = hfmm::data_type::tokens, hfmm::data_type out = hfmm::data_type::logits) {
  hfmm::model_metadata m;
  m.model_id = id;
  m.model_name = id.substr(id.rfind('/') + 1);
  m.model_type = type;
  m.architecture = std::move(arch);
  m.tags = std::move(tags);
  m.inputs = {{.name = "in", .data_type = in}};
  m.outputs = {{.name = "out", .data_type = out}};
  m.description = "Model " + id;
  return m;
}

hfmm::repo_structure tiny_structure(std::string id, std::string sha, std::vector<std::pair<std::string, std::string>> files) {
  hfmm::repo_structure s{.model_id = std::move(id), .commit_sha = std::move(sha)};
  for (auto& [path, oid] : files) s.files.insert(path, {.size = 100, .oid = oid});
  return s;
}

const std::string oid_a(40, 'a'), oid_b(40, 'b'), oid_c(40, 'c');
}  // namespace

TEST_CASE("add, get, replace and remove keep first-insert order") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  CHECK(mm.add_model(model("a/one", hfmm::model_type::language_model, "GPT2", {"x"})));
  CHECK(mm.add_model(model("b/two", hfmm::model_type::vision_model, "ViT", {"y"})));
  CHECK(mm.add_model(model("c/three", hfmm::model_type::audio_model, "Whisper", {"x", "y"})));
  REQUIRE(mm.get_model("b/two"));
  CHECK(mm.get_model("b/two")->architecture == "ViT");
  CHECK(mm.get_model("b/two")->updated_at != hfmm::timestamp{});
  CHECK(mm.get_model("nope") == nullptr);

  auto created = mm.get_model("a/one")->created_at;
  auto replacement = model("a/one", hfmm::model_type::language_model, "GPT2-XL", {"x"});
  replacement.created_at = created;
  CHECK(mm.add_model(replacement));
  auto all = mm.list_models();
  REQUIRE(all.size() == 3);
  CHECK(all[0]->model_id == "a/one");
  CHECK(all[0]->architecture == "GPT2-XL");
  CHECK(all[0]->created_at == created);

  CHECK(mm.remove_model("b/two"));
  CHECK(mm.remove_model("b/two").error() == hfmm::errc::model_not_found);
  CHECK(mm.list_models().size() == 2);
  CHECK(mm.get_model("c/three")->architecture == "Whisper");
  CHECK(mm.add_model(hfmm::model_metadata{}).error() == hfmm::errc::invalid_argument);
}

TEST_CASE("list filters, search and IO-type queries") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  REQUIRE(mm.add_model(model("a/gpt", hfmm::model_type::language_model, "GPT2", {"text", "gen"})));
  REQUIRE(mm.add_model(model("b/vit", hfmm::model_type::vision_model, "ViT", {"vision"}, hfmm::data_type::image,
                             hfmm::data_type::embeddings)));
  REQUIRE(mm.add_model(model("c/bert", hfmm::model_type::language_model, "Bert", {"text"}, hfmm::data_type::tokens,
                             hfmm::data_type::embeddings)));
  auto ids = [](const std::vector<const hfmm::model_metadata*>& v) {
    std::vector<std::string> out;
    for (auto* m : v) out.push_back(m->model_id);
    return out;
  };
  using v = std::vector<std::string>;
  CHECK(ids(mm.list_models({.model_type = hfmm::model_type::language_model})) == v{"a/gpt", "c/bert"});
  CHECK(ids(mm.list_models({.architecture = "ViT"})) == v{"b/vit"});
  CHECK(ids(mm.list_models({.tags = {"text", "gen"}})) == v{"a/gpt"});
  CHECK(ids(mm.list_models({.model_type = hfmm::model_type::vision_model, .tags = {"text"}})).empty());
  CHECK(ids(mm.search_models("TEXT")) == v{"a/gpt", "c/bert"});  // tags, case-insensitive
  CHECK(ids(mm.search_models("vit")) == v{"b/vit"});                // name
  CHECK(ids(mm.search_models("model c/")) == v{"c/bert"});          // description
  CHECK(ids(mm.get_models_by_input_type(hfmm::data_type::tokens)) == v{"a/gpt", "c/bert"});
  CHECK(ids(mm.get_models_by_output_type(hfmm::data_type::embeddings)) == v{"b/vit", "c/bert"});
  CHECK(ids(mm.get_compatible_models(hfmm::data_type::tokens, hfmm::data_type::embeddings)) == v{"c/bert"});
  CHECK(mm.get_compatible_models(hfmm::data_type::audio, hfmm::data_type::text).empty());
}

TEST_CASE("stats: the empty-catalog shape and the full one") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  CHECK(boost::json::value_from(mm.get_stats()) == boost::json::parse(R"({"total_models":0})"));
  auto hub = hfmm_test::recorded_hub();
  auto gpt2 = model("wzshiming/gpt2", hfmm::model_type::language_model, "GPT2LMHeadModel", {});
  gpt2.repository_structure = hfmm::fetch_huggingface_repo_structure(hub, "wzshiming/gpt2").value();
  gpt2.huggingface_config = boost::json::object{{"n_layer", 12}};
  REQUIRE(mm.add_model(gpt2));
  REQUIRE(mm.add_model(model("b/vit", hfmm::model_type::vision_model, "ViT", {}, hfmm::data_type::image)));
  auto stats = mm.get_stats();
  CHECK(stats.total_models == 2);
  CHECK(stats.models_by_type.at("language_model") == 1);
  CHECK(stats.models_by_architecture.at("ViT") == 1);
  CHECK(stats.common_input_types.at("image") == 1);
  CHECK(stats.common_output_types.at("logits") == 2);
  CHECK(stats.models_with_hf_config == 1);
  CHECK(stats.models_with_repo_structure == 1);
  CHECK(stats.total_tracked_files == 26);
  auto jv = boost::json::value_from(stats);
  for (auto key : {"total_models", "models_by_type", "models_by_architecture", "common_input_types",
                   "common_output_types", "models_with_hf_config", "models_with_inference_code",
                   "models_with_repo_structure", "total_tracked_files"})
    CHECK(jv.as_object().contains(key));
  CHECK(boost::json::value_to<hfmm::manager_stats>(jv) == stats);
}

TEST_CASE("file queries over real structures") {
  auto hub = hfmm_test::recorded_hub();
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hub);
  for (auto id : {"wzshiming/gpt2", "google-bert/bert-base-uncased", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
    auto m = hfmm::create_model_from_huggingface(mm.fetcher(), id, {});
    REQUIRE(m.repository_structure);
    REQUIRE(mm.add_model(m));
  }
  REQUIRE(mm.add_model(model("local/no-structure", hfmm::model_type::language_model, "X", {})));
  CHECK(mm.get_model_file_hash("wzshiming/gpt2", "config.json") == "10c66461e4c109db5a2196bff4bb59be30396ed8");
  CHECK_FALSE(mm.get_model_file_hash("wzshiming/gpt2", "nope.json"));
  CHECK_FALSE(mm.get_model_file_hash("local/no-structure", "config.json"));
  CHECK_FALSE(mm.get_model_file_hash("unknown", "config.json"));
  CHECK(mm.get_models_with_file("config.json").size() == 3);
  CHECK(mm.get_models_with_file("CONFIG.JSON").size() == 3);
  auto onnx = mm.get_models_with_file("onnx/decoder_model.onnx");
  REQUIRE(onnx.size() == 1);
  CHECK(onnx[0]->model_id == "wzshiming/gpt2");
  CHECK(mm.get_models_with_file(".mlmodelc").size() == 1);
  CHECK(mm.get_models_with_file("nonexistent.file").empty());

  // Identical content: bert's and gpt2's files share nothing, parakeet shares within itself.
  auto sha = hfmm::get_file_sha256_from_structure(mm.get_model("wzshiming/gpt2")->repository_structure, "model.safetensors");
  auto hits = mm.find_models_with_content(*sha);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].path == "model.safetensors");
  auto by_oid = mm.find_models_with_content("10c66461e4c109db5a2196bff4bb59be30396ed8");
  REQUIRE(by_oid.size() == 1);
  CHECK(by_oid[0].model->model_id == "wzshiming/gpt2");
  CHECK(mm.find_models_with_content("xyz").empty());
}

TEST_CASE("refresh: a failed refresh keeps the old structure; a new commit keeps the previous one") {
  hfmm::mock_fetcher hub;
  hub.add(tiny_structure("org/m", std::string(40, '1'), {{"a.txt", oid_a}, {"b.txt", oid_b}}));
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hub);
  REQUIRE(mm.add_model(model("org/m", hfmm::model_type::language_model, "X", {})));
  REQUIRE(mm.add_model(model("org/gone", hfmm::model_type::language_model, "X", {})));
  CHECK(mm.refresh_repository_structure("org/m"));
  REQUIRE(mm.get_model("org/m")->repository_structure);
  CHECK(mm.get_model("org/m")->repository_structure->commit_sha == std::string(40, '1'));
  CHECK(mm.previous_structure("org/m") == nullptr);

  CHECK(mm.refresh_repository_structure("org/m", "dev").error() == hfmm::errc::revision_not_found);
  CHECK(mm.get_model("org/m")->repository_structure->total_files() == 2);  // kept
  CHECK(mm.refresh_repository_structure("org/gone").error() == hfmm::errc::repo_not_found);
  CHECK(mm.refresh_repository_structure("not/in/catalog").error() == hfmm::errc::model_not_found);

  mm.fetcher().add(tiny_structure("org/m", std::string(40, '2'), {{"a.txt", oid_a}, {"c.txt", oid_c}}));
  CHECK(mm.refresh_repository_structure("org/m"));
  const auto* prev = mm.previous_structure("org/m");
  REQUIRE(prev);
  CHECK(prev->commit_sha == std::string(40, '1'));
  CHECK(prev->files.contains("b.txt"));
  CHECK(mm.get_model("org/m")->repository_structure->files.contains("c.txt"));

  // The same commit again: nothing changed, the history stays.
  CHECK(mm.refresh_repository_structure("org/m"));
  REQUIRE(mm.previous_structure("org/m"));
  CHECK(mm.previous_structure("org/m")->commit_sha == std::string(40, '1'));
}

TEST_CASE("refresh: a record from before model info gets the Hub's, what it says itself kept") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hfmm_test::recorded_hub());
  // As the Python Model Manager and older hfmm wrote it: nothing from the Hub but the id.
  auto old = hfmm::create_model_from_huggingface("wzshiming/gpt2", {});
  REQUIRE(old.architecture == "unknown");
  REQUIRE(mm.add_model(old));
  auto curated = model("other/gpt2", hfmm::model_type::encoder_only, "Custom", {"mine"});
  curated.license = "apache-2.0";
  curated.repository_structure = hfmm::repo_structure{.model_id = "wzshiming/gpt2"};  // the repo it tracks
  REQUIRE(mm.add_model(curated));

  auto report = mm.refresh_all();
  CHECK(report.failed() == 0);
  const auto* m = mm.get_model("wzshiming/gpt2");
  CHECK(m->architecture == "GPT2LMHeadModel");
  CHECK(m->license == "mit");
  CHECK(m->tags.size() == 12);
  REQUIRE(m->repository_structure->model_info);
  CHECK(m->repository_structure->model_info->total_parameters == 137022720u);
  const auto* c = mm.get_model("other/gpt2");
  CHECK(c->architecture == "Custom");
  CHECK(c->model_type == hfmm::model_type::encoder_only);
  CHECK(c->license == "apache-2.0");
  CHECK(c->tags == std::vector<std::string>{"mine"});
  CHECK(c->repository_structure->model_info);  // the structure's Hub facts are always the latest
}

TEST_CASE("refresh_all: concurrent, unchanged repos cost one request, failures do not stop the rest") {
  hfmm::mock_fetcher hub;
  for (int i = 0; i < 30; ++i)
    hub.add(tiny_structure("org/m" + std::to_string(i), std::string(40, 'a'), {{"a.txt", oid_a}}));
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hub);
  for (int i = 0; i < 30; ++i) REQUIRE(mm.add_model(model("org/m" + std::to_string(i), hfmm::model_type::language_model, "X", {})));
  REQUIRE(mm.add_model(model("org/missing", hfmm::model_type::language_model, "X", {})));

  std::size_t progress_calls = 0, last_done = 0;
  auto first = mm.refresh_all({.concurrency = 4, .on_progress = [&](const hfmm::refresh_progress& p) {
                                 ++progress_calls;
                                 CHECK(p.done == last_done + 1);
                                 CHECK(p.total == 31);
                                 last_done = p.done;
                               }});
  CHECK(progress_calls == 31);
  CHECK(first.items.size() == 31);
  CHECK(first.failed() == 1);
  CHECK(first.items.back().outcome.error() == hfmm::errc::repo_not_found);
  CHECK(first.requests == 31);
  CHECK(std::count_if(first.items.begin(), first.items.end(), [](auto& i) { return i.changed; }) == 30);
  CHECK(mm.get_stats().models_with_repo_structure == 30);

  mm.fetcher().add(tiny_structure("org/m7", std::string(40, 'b'), {{"a.txt", oid_a}, {"b.txt", oid_b}}));
  auto second = mm.refresh_all({.concurrency = 8});
  // 29 unchanged: one revision request each; m7: revision + listing; missing: one failed request.
  CHECK(second.requests == 29 + 2 + 1);
  CHECK(std::count_if(second.items.begin(), second.items.end(), [](auto& i) { return i.changed; }) == 1);
  CHECK(mm.get_model("org/m7")->repository_structure->total_files() == 2);
  CHECK(mm.previous_structure("org/m7")->total_files() == 1);

  std::stop_source stop;
  stop.request_stop();
  auto stopped = mm.refresh_all({.stop = stop.get_token()});
  CHECK(stopped.failed() == 31);
  CHECK(stopped.items[0].outcome.error() == boost::asio::error::operation_aborted);
}

TEST_CASE("add_from_hub: concurrent, every item reported, records kept, the rest goes on past a failure") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hfmm_test::recorded_hub());
  auto mine = model("google-bert/bert-base-uncased", hfmm::model_type::encoder_only, "Mine", {"curated"});
  REQUIRE(mm.add_model(mine));
  std::vector<std::string> ids = {"wzshiming/gpt2", "../etc/passwd", "google-bert/bert-base-uncased",
                                  "wzshiming/does-not-exist", "FluidInference/parakeet-tdt-0.6b-v3-coreml",
                                  "wzshiming/gpt2"};
  std::size_t progress_calls = 0;
  auto report = mm.add_from_hub(ids, "main", {.concurrency = 3, .on_progress = [&](const hfmm::refresh_progress& p) {
                                                ++progress_calls;
                                                CHECK(p.total == 5);
                                              }});
  REQUIRE(report.items.size() == 5);  // one item per distinct id, in the order given
  CHECK(progress_calls == 5);
  CHECK(report.items[0].model_id == "wzshiming/gpt2");
  CHECK(report.items[1].outcome.error() == hfmm::errc::invalid_argument);
  CHECK(report.items[3].outcome.error() == hfmm::errc::unauthorized);  // as the Hub answers anonymous requests
  CHECK(report.failed() == 2);
  CHECK(mm.get_model("../etc/passwd") == nullptr);
  const auto* gpt2 = mm.get_model("wzshiming/gpt2");
  REQUIRE(gpt2);
  CHECK(gpt2->architecture == "GPT2LMHeadModel");
  CHECK(gpt2->license == "mit");
  CHECK(gpt2->created_at != hfmm::timestamp{});
  CHECK(gpt2->repository_structure->total_files() == 26);
  const auto* bert = mm.get_model("google-bert/bert-base-uncased");
  CHECK(bert->architecture == "Mine");  // what the record says wins
  CHECK(bert->tags == std::vector<std::string>{"curated"});
  CHECK(bert->repository_structure->commit_sha.size() == 40);
  CHECK(mm.list_models().size() == 3);
  CHECK(mm.list_models()[0]->model_id == "google-bert/bert-base-uncased");  // first-insert order kept

  auto again = mm.add_from_hub(std::vector<std::string>{"wzshiming/gpt2"});
  CHECK(again.failed() == 0);
  CHECK_FALSE(again.items[0].changed);  // the same commit
}

TEST_CASE("repo ids: the Hub's rule, named; add_model and fetches refuse what breaks it") {
  for (const std::string& ok : std::vector<std::string>{"gpt2", "wzshiming/gpt2", "datasets/org/name", "spaces/org/name_1.0", "Org_1/A.b-c",
                               "org/" + std::string(96, 'a')}) {
    CAPTURE(ok);
    CHECK(hfmm::repo_id_problem(ok).empty());
  }
  for (const std::string& bad : std::vector<std::string>{"", "../etc/passwd", "my org/my model", "org/", "/name", "a/b/c", "org/na--me",
                                "org/na..me", "org/-name", "org/name.", "org/naïve", "org/name%2F",
                                "org/" + std::string(97, 'a')}) {
    CAPTURE(bad);
    CHECK_FALSE(hfmm::repo_id_problem(bad).empty());
  }
  CHECK(hfmm::repo_id_problem("org/na--me").find("--") != std::string_view::npos);  // the detail names the rule
  CHECK(hfmm::repo_id_problem("my org/x").find("letters, digits") != std::string_view::npos);

  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hfmm_test::recorded_hub());
  for (auto bad : {"../etc/passwd", "my org/my model"}) {
    CAPTURE(bad);
    auto m = hfmm::create_model_from_huggingface(mm.fetcher(), bad, {});
    CHECK_FALSE(m.repository_structure);  // the fetch refused it
    CHECK(hfmm::create_model_from_hub(mm.fetcher(), bad).error() == hfmm::errc::invalid_argument);
    CHECK(hfmm::fetch_huggingface_repo_structure(mm.fetcher(), bad).error() == hfmm::errc::invalid_argument);
    CHECK(mm.add_model(m).error() == hfmm::errc::invalid_argument);
    std::vector<hfmm::model_metadata> batch = {model("ok/one", hfmm::model_type::language_model, "X", {}), m};
    CHECK(mm.add_models(batch).error() == hfmm::errc::invalid_argument);
  }
  CHECK(mm.size() == 0);  // nothing stored, the valid batch member included
}

TEST_CASE("history, duplicates and similarity") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  auto a = model("o/a", hfmm::model_type::language_model, "X", {});
  a.repository_structure = tiny_structure("o/a", "", {{"config.json", oid_a}, {"w.bin", oid_b}});
  auto b = model("o/b", hfmm::model_type::language_model, "X", {});
  b.repository_structure = tiny_structure("o/b", "", {{"config.json", oid_a}, {"w.bin", oid_c}});
  auto c = model("o/c", hfmm::model_type::language_model, "X", {});
  c.repository_structure = tiny_structure("o/c", "", {{"other.txt", oid_c}});
  REQUIRE(mm.add_models(std::vector{a, b, c}));

  auto dupes = mm.get_duplicate_report();
  REQUIRE(dupes.groups.size() == 2);
  CHECK(dupes.reclaimable_bytes == 200);
  for (const auto& g : dupes.groups) CHECK(g.files.size() == 2);

  auto similar = mm.get_similar_models("o/a");
  REQUIRE(similar.size() == 1);  // c shares neither a path nor content with a
  CHECK(similar[0].model->model_id == "o/b");
  CHECK(similar[0].path_jaccard == doctest::Approx(1.0));
  CHECK(similar[0].content_jaccard == doctest::Approx(1.0 / 3.0));
  CHECK(mm.get_similar_models("o/b", 1).size() == 1);
  CHECK(mm.get_similar_models("o/none").empty());
}

TEST_CASE("export and import in the JSON store layout; persistence across reopen") {
  hfmm_test::scratch_dir dir;
  auto hub = hfmm_test::recorded_hub();
  {
    hfmm::json_model_manager mm(hfmm::json_file_storage(dir / "catalog.json"), hub);
    auto m = hfmm::create_model_from_huggingface(mm.fetcher(), "wzshiming/gpt2", {{"architectures", boost::json::array{"GPT2LMHeadModel"}}});
    REQUIRE(mm.add_model(m));
    REQUIRE(mm.add_model(model("o/x", hfmm::model_type::vision_model, "ViT", {"t"})));
    CHECK(mm.export_metadata(dir / "export.json"));
    CHECK(mm.export_metadata(dir / "export.csv", "csv").error() == hfmm::errc::invalid_argument);
  }
  {
    hfmm::json_model_manager reopened(hfmm::json_file_storage(dir / "catalog.json"));
    REQUIRE(reopened.list_models().size() == 2);
    CHECK(reopened.get_model_file_hash("wzshiming/gpt2", "config.json") == "10c66461e4c109db5a2196bff4bb59be30396ed8");
    CHECK(reopened.get_model("o/x")->tags == std::vector<std::string>{"t"});
  }
  auto exported = boost::json::parse(hfmm_test::slurp(dir / "export.json")).as_object();
  CHECK(exported.size() == 2);
  CHECK(exported.at("wzshiming/gpt2").at("repository_structure").at("total_files") == 26);

  hfmm::offline_model_manager other(hfmm::memory_storage{});
  REQUIRE(other.add_model(model("o/x", hfmm::model_type::language_model, "old", {})));
  REQUIRE(other.add_model(model("o/y", hfmm::model_type::language_model, "Y", {})));
  CHECK(other.import_metadata(dir / "export.json"));
  CHECK(other.list_models().size() == 3);
  CHECK(other.get_model("o/x")->architecture == "ViT");  // replaced by model_id
  CHECK(other.list_models()[0]->model_id == "o/x");      // in its first-insert position
  CHECK(other.import_metadata(dir / "missing.json").error() == hfmm::errc::file_not_found);
  hfmm_test::spit(dir / "bad.json", "{\"a\": ");
  CHECK(other.import_metadata(dir / "bad.json").error() == hfmm::errc::storage_corrupt);
}

TEST_CASE("async refresh runs on the caller's io_context") {
  hfmm::mock_fetcher hub;
  hub.add(tiny_structure("org/m", std::string(40, '1'), {{"a.txt", oid_a}}));
  hfmm::offline_model_manager mm(hfmm::memory_storage{}, hub);
  REQUIRE(mm.add_model(model("org/m", hfmm::model_type::language_model, "X", {})));
  boost::asio::io_context ctx;
  hfmm::result<void> outcome = hfmm::errc::timeout;
  boost::asio::co_spawn(ctx, mm.async_refresh_repository_structure("org/m"),
                        [&](std::exception_ptr, hfmm::result<void> r) { outcome = r; });
  ctx.run();
  CHECK(outcome);
  CHECK(mm.get_model("org/m")->repository_structure->total_files() == 1);
}

TEST_CASE("indexes agree with a plain scan through adds, replacements, removals and slot compaction") {
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  std::mt19937 rng(42);
  // Paths that differ only in case ("Model.SafeTensors", "model.safetensors") share one index entry.
  const std::vector<std::string> names = {"config.json", "README.md", "onnx/model.onnx", "Model.SafeTensors",
                                          "tokenizer.json", "sub1/config.json", "weights/pytorch_model.bin", "a",
                                          "model.safetensors", "Tokenizer.JSON"};
  auto random_model = [&](int id) {
    hfmm::model_metadata m{.model_id = "m" + std::to_string(id)};
    hfmm::repo_structure s{.model_id = m.model_id};
    for (const auto& n : names)
      if (rng() % 2) {
        auto sha = std::string(63, "0123456789abcdef"[rng() % 3]) + "a";
        s.files.insert(n, {.size = 10, .oid = hfmm::lfs_pointer_oid(sha, 10), .lfs = hfmm::lfs_info{sha, 10, 127}});
      }
    if (rng() % 5) m.repository_structure = std::move(s);
    return m;
  };
  auto naive_with_file = [&](std::string pattern) {
    for (auto& c : pattern) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::vector<const hfmm::model_metadata*> out;
    for (auto* m : mm.list_models()) {
      if (!m->repository_structure) continue;
      for (auto f : m->repository_structure->files) {
        std::string p(f.path());
        for (auto& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (p.find(pattern) != std::string::npos) {
          out.push_back(m);
          break;
        }
      }
    }
    return out;
  };
  auto naive_content = [&](const std::string& hash) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto* m : mm.list_models())
      if (m->repository_structure)
        for (auto f : m->repository_structure->files)
          if (f.oid() == hash || (f.lfs() && f.lfs()->sha256 == hash)) out.emplace_back(m->model_id, f.path());
    return out;
  };
  std::set<int> present;  // what get_model must find (the id index is an open-addressing table)
  for (int step = 0; step < 3000; ++step) {
    int id = static_cast<int>(rng() % 1500);
    if (rng() % 4 == 0) {
      CHECK(mm.remove_model("m" + std::to_string(id)).has_value() == present.contains(id));
      present.erase(id);
    } else {
      REQUIRE(mm.add_model(random_model(id)));
      present.insert(id);
    }
    if (step % 300 == 0) {
      for (int other = 0; other < 1500; ++other) {
        auto* m = mm.get_model("m" + std::to_string(other));
        CHECK((m != nullptr) == present.contains(other));
        if (m) CHECK(m->model_id == "m" + std::to_string(other));
      }
      CHECK(mm.size() == present.size());
      for (auto pattern : {"config.json", "CONFIG", "safetensors", "model.safetensors", "tokenizer.json", "onnx/", "a", "",
                           "nothing-like-this", "json\nx"})
        CHECK(mm.get_models_with_file(pattern) == naive_with_file(pattern));
      auto sample = mm.list_models();
      for (std::size_t i = 0; i < sample.size(); i += 97) {
        if (!sample[i]->repository_structure || sample[i]->repository_structure->files.empty()) continue;
        auto f = *sample[i]->repository_structure->files.begin();
        for (const auto& hash : {f.oid(), f.lfs()->sha256}) {
          std::vector<std::pair<std::string, std::string>> got;
          for (const auto& match : mm.find_models_with_content(hash)) got.emplace_back(match.model->model_id, match.path);
          CHECK(got == naive_content(hash));
        }
      }
    }
  }
  // Remove most models: the slots are renumbered once holes outnumber models.
  for (int id = 0; id < 1400; ++id) (void)mm.remove_model("m" + std::to_string(id));
  REQUIRE(mm.size() <= 100);
  for (auto pattern : {"config.json", "safetensors", "", "a"})
    CHECK(mm.get_models_with_file(pattern) == naive_with_file(pattern));
  REQUIRE(mm.add_model(random_model(7)));
  CHECK(mm.list_models().back()->model_id == "m7");
  CHECK(mm.get_models_with_file("") == naive_with_file(""));
}

TEST_CASE("one digest in every model: the scan, the index and in-place replacements agree") {
  // As on the Hub: one .gitattributes blob, one tokenizer in most models, forks sharing an LFS file.
  hfmm::offline_model_manager mm(hfmm::memory_storage{});
  const std::string attributes = std::string(40, 'a');
  const std::string shared_sha = std::string(64, 'b');
  const std::string tokenizer = std::string(39, 'c') + "1";
  auto model = [&](int id, int generation) {
    hfmm::model_metadata m{.model_id = "org/m" + std::to_string(id)};
    hfmm::repo_structure s{.model_id = m.model_id, .commit_sha = std::string(39, 'd') + std::to_string(generation % 10)};
    s.files.insert(".gitattributes", {.size = 1519, .oid = attributes});
    if (id % 4 != 0) s.files.insert("tokenizer.json", {.size = 7, .oid = tokenizer});
    if (id % 3 == 0) s.files.insert("model.safetensors", {.size = 9, .oid = hfmm::lfs_pointer_oid(shared_sha, 9), .lfs = hfmm::lfs_info{shared_sha, 9, 126}});
    auto own = hfmm::detail::sha256_hex(m.model_id + std::to_string(generation));
    s.files.insert("sub" + std::to_string(id % 7) + "/own.bin", {.size = 3, .oid = hfmm::lfs_pointer_oid(own, 3), .lfs = hfmm::lfs_info{own, 3, 126}});
    m.repository_structure = std::move(s);
    return m;
  };
  constexpr int models = 3000;
  std::vector<hfmm::model_metadata> batch;
  for (int id = 0; id < models; ++id) batch.push_back(model(id, 0));
  REQUIRE(mm.add_models(batch));
  auto ids = [](const std::vector<const hfmm::model_metadata*>& v) {
    std::vector<std::string> out;
    for (auto* m : v) out.push_back(m->model_id);
    return out;
  };
  auto content_ids = [&](const std::string& hash) {
    std::vector<std::string> out;
    for (const auto& match : mm.find_models_with_content(hash)) out.push_back(match.model->model_id + ":" + match.path);
    return out;
  };
  auto expected_content = [&](const std::string& hash) {
    std::vector<std::string> out;
    for (auto* m : mm.list_models())
      for (auto f : m->repository_structure->files)
        if (f.oid() == hash || (f.lfs() && f.lfs()->sha256 == hash)) out.push_back(m->model_id + ":" + std::string(f.path()));
    return out;
  };
  auto expected_with = [&](const std::string& lower) {
    std::vector<std::string> out;
    for (auto* m : mm.list_models())
      for (auto f : m->repository_structure->files)
        if (hfmm::detail::to_lower_ascii(f.path()).find(lower) != std::string::npos) {
          out.push_back(m->model_id);
          break;
        }
    return out;
  };
  auto check_all = [&] {
    for (const auto& hash : {attributes, shared_sha, tokenizer, std::string(40, 'e')}) CHECK(content_ids(hash) == expected_content(hash));
    for (std::string pattern : {".gitattributes", "tokenizer.json", "sub3/", "own.bin", "", "absent"})
      CHECK(ids(mm.get_models_with_file(pattern)) == expected_with(pattern));
  };
  check_all();  // the first questions scan; the later ones build and use the indexes
  check_all();
  CHECK(content_ids(attributes).size() == models);
  for (int id = 0; id < models; ++id) REQUIRE(mm.add_model(model(id, 1)));  // refreshed in place, same slots
  check_all();
  for (int id = 0; id < models; id += 2) REQUIRE(mm.remove_model("org/m" + std::to_string(id)));
  check_all();
  for (int id = 0; id < models; id += 2) REQUIRE(mm.add_model(model(id, 2)));  // back, at the end
  check_all();
  CHECK(mm.list_models().back()->model_id == "org/m" + std::to_string(models - 2));
}
