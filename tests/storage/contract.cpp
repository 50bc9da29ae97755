// One contract, every storage: memory, JSON file (plain, gzip, zstd), SQLite, DuckDB,
// PostgreSQL. What applies to each is read from hfmm::storage_traits.
#include "storage_support.hpp"

#include <boost/json/parse.hpp>

namespace {

hfmm::model_metadata full_model(std::string id) {
  auto hub = hfmm_test::recorded_hub();
  hfmm::model_metadata m = hfmm::create_model_from_huggingface(
      hub, "wzshiming/gpt2", {{"architectures", boost::json::array{"GPT2LMHeadModel"}}, {"n_layer", 12}});
  m.model_id = std::move(id);
  m.model_type = hfmm::model_type::decoder_only;
  m.inputs.push_back({.name = "mask", .data_type = hfmm::data_type::features,
                      .shape = std::vector<std::optional<std::int64_t>>{std::nullopt, 1024}, .dtype = "int8",
                      .description = "attention mask", .optional = true});
  m.inference_code_location = "/srv/code.py";
  m.supported_backends = {"cpu", "cuda"};
  m.hardware_requirements = boost::json::object{{"min_memory_gb", 2}};
  m.performance_metrics = boost::json::object{{"latency_ms", 12.5}};
  m.tags = {"gpt2", "text-generation"};
  m.license = "mit";
  m.description = "GPT-2 — with non-ASCII text";
  m.extra = boost::json::object{{"owner", "ml-platform"}, {"nested", boost::json::object{{"k", boost::json::array{1, "x", nullptr}}}}};
  auto prev = *m.repository_structure;
  prev.commit_sha = std::string(40, '9');
  prev.files.erase("vocab.json");
  m.repository_structure->previous = std::make_shared<const hfmm::repo_structure>(std::move(prev));
  // Odd values a store must keep verbatim.
  m.repository_structure->files.insert("weird path/ü.bin", {.size = 7, .oid = "not-hex", .download_url = ""});
  m.repository_structure->files.insert("custom.bin", {.size = 1, .oid = std::string(40, 'a'),
                                                      .download_url = "https://mirror.example/custom.bin"});
  return m;
}

hfmm::model_metadata parakeet_model() {
  auto hub = hfmm_test::recorded_hub();
  return hfmm::create_model_from_huggingface(hub, "FluidInference/parakeet-tdt-0.6b-v3-coreml", {});
}

hfmm::model_metadata small_model(int i) {
  hfmm::model_metadata m{.model_id = "bulk/model-" + std::to_string(i), .model_name = "model-" + std::to_string(i)};
  hfmm::repo_structure s{.model_id = m.model_id, .commit_sha = std::string(40, 'b')};
  s.files.insert("config.json", {.size = static_cast<std::uint64_t>(i), .oid = std::string(40, 'c')});
  m.repository_structure = std::move(s);
  return m;
}

std::vector<std::string> ids(const auto& mm) {
  std::vector<std::string> out;
  for (const auto* m : mm.list_models()) out.push_back(m->model_id);
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("storage contract", S, HFMM_TEST_STORAGES) {
  using traits = hfmm::storage_traits<S>;
  hfmm_test::store_place<S> place;
  if (!place.available()) return;  // store_place reported the skip (a failure when every test is required)
  using manager = hfmm::model_manager<S, hfmm::mock_fetcher>;

  auto gpt2 = full_model("org/gpt2");
  auto parakeet = parakeet_model();
  {
    manager mm(place.make());
    REQUIRE(mm.add_model(gpt2));
    REQUIRE(mm.add_model(parakeet));
    REQUIRE(mm.add_model(full_model("org/third")));
    REQUIRE(mm.add_model(small_model(0)));
    // Replace keeps the first-insert position.
    auto replacement = *mm.get_model("org/gpt2");
    replacement.description = "replaced";
    REQUIRE(mm.add_model(replacement));
    REQUIRE(mm.remove_model("org/third"));
    CHECK(ids(mm) == std::vector<std::string>{"org/gpt2", "FluidInference/parakeet-tdt-0.6b-v3-coreml", "bulk/model-0"});
    CHECK(mm.close());
  }
  if (traits::persistent) {
    manager mm(place.make());
    CHECK(ids(mm) == std::vector<std::string>{"org/gpt2", "FluidInference/parakeet-tdt-0.6b-v3-coreml", "bulk/model-0"});
    const auto* back = mm.get_model("org/gpt2");
    REQUIRE(back);
    auto expected = gpt2;
    expected.description = "replaced";
    expected.created_at = back->created_at;
    expected.updated_at = back->updated_at;
    CHECK(back->extra == expected.extra);
    CHECK(back->inputs == expected.inputs);
    REQUIRE(back->repository_structure);
    CHECK(back->repository_structure->files == expected.repository_structure->files);
    REQUIRE(back->repository_structure->previous);
    CHECK(*back->repository_structure->previous == *expected.repository_structure->previous);
    CHECK(*back == expected);  // every field
    CHECK(back->repository_structure->files.find("custom.bin")->download_url == "https://mirror.example/custom.bin");
    CHECK(back->repository_structure->files.find("weird path/ü.bin")->download_url.empty());
    auto stored_parakeet = *mm.get_model("FluidInference/parakeet-tdt-0.6b-v3-coreml");
    parakeet.updated_at = stored_parakeet.updated_at;  // add_model stamps it
    CHECK(stored_parakeet == parakeet);
    CHECK(mm.get_model("FluidInference/parakeet-tdt-0.6b-v3-coreml")->repository_structure->total_files() == 84);

    if (traits::single_writer) {
      auto second = manager::open(place.make());
      REQUIRE_FALSE(second);
      CHECK(second.error() == hfmm::errc::storage_locked);
    }
  }

  SUBCASE("a 10 000-model bulk load through add_models") {
    std::vector<hfmm::model_metadata> many;
    for (int i = 1; i <= 10000; ++i) many.push_back(small_model(i));
    {
      manager mm(place.make());
      REQUIRE(mm.add_models(many));
      CHECK(mm.size() == (traits::persistent ? 10003u : 10000u));
    }
    if (traits::persistent) {
      manager mm(place.make());
      CHECK(mm.size() == 10003);
      CHECK(mm.get_model("bulk/model-9999")->repository_structure->files.find("config.json")->size == 9999);
      CHECK(ids(mm).back() == "bulk/model-10000");
    }
  }

  if constexpr (hfmm::storage_traits<S>::can_be_corrupt) {
    SUBCASE("a corrupt store is refused and left untouched") {
      auto bytes = place.corrupt();
      auto mm = manager::open(place.make());
      REQUIRE_FALSE(mm);
      CHECK(mm.error() == hfmm::errc::storage_corrupt);
      CHECK(place.bytes() == bytes);
    }
  }

  SUBCASE("a store written by a newer hfmm is refused") {
    if (place.make_newer()) {
      auto mm = manager::open(place.make());
      REQUIRE_FALSE(mm);
      CHECK(mm.error() == hfmm::errc::schema_newer);
    }
  }
}
