#include "../support/test_support.hpp"

#include <hfmm/detail/blocking.hpp>
#include <hfmm/fetch/mock_fetcher.hpp>
#include <hfmm/huggingface.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <functional>

using hfmm::detail::run_blocking;

TEST_CASE("replay: the two-page parakeet listing is read as one structure through Link") {
  auto hub = hfmm_test::recorded_hub();
  auto s = run_blocking(hub.async_fetch_structure("FluidInference/parakeet-tdt-0.6b-v3-coreml", "main"));
  REQUIRE(s);
  CHECK(s->total_files() == 84);  // 39 files on page 1 (61 directories skipped) + 45 on page 2
  CHECK(s->commit_sha == "aed02740059203c4a87495924f685de3722ae9ce");
  CHECK(s->files.contains("MelEncoder.mlmodelc/weights/weight.bin"));  // the last path of page 1
  CHECK(hub.requests() == 3);  // revision + two pages
  CHECK(std::is_sorted(s->files.begin(), s->files.end(),
                       [](hfmm::file_ref a, hfmm::file_ref b) { return a.path() < b.path(); }));
}

TEST_CASE("replay: bert-base-uncased and a dataset listed at its branch") {
  auto hub = hfmm_test::recorded_hub();
  auto bert = run_blocking(hub.async_fetch_structure("google-bert/bert-base-uncased", "main"));
  REQUIRE(bert);
  CHECK(bert->total_files() == 5);
  CHECK(bert->files.find("tf_model.h5")->lfs->size == 536063208);
  CHECK(bert->files.find("config.json")->download_url ==
        "https://huggingface.co/google-bert/bert-base-uncased/resolve/dd4bc8b21efa05ec961e3efc4ee5e3832a3679c7/config.json");

  auto ds = run_blocking(hub.async_fetch_structure("datasets/wzshiming/fixtures_image_utils", "main"));
  REQUIRE(ds);
  CHECK(ds->repo_type == hfmm::repo_type::dataset);
  CHECK(ds->model_id == "wzshiming/fixtures_image_utils");
  CHECK(ds->commit_sha.empty());  // no revision answer was recorded
  CHECK(ds->total_files() == 35);
  CHECK(ds->files.begin()->download_url().starts_with(
      "https://huggingface.co/datasets/wzshiming/fixtures_image_utils/resolve/main/"));
}

TEST_CASE("replay: the recorded error answers become typed errors") {
  auto hub = hfmm_test::recorded_hub();
  auto missing = run_blocking(hub.async_fetch_structure("wzshiming/does-not-exist", "main"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == hfmm::errc::unauthorized);
  CHECK(missing.error().message() == "not found, private or gated — set HF_TOKEN to access it");

  auto bad_rev = run_blocking(hub.async_fetch_structure("wzshiming/gpt2", "does-not-exist"));
  CHECK(bad_rev.error() == hfmm::errc::revision_not_found);

  auto unknown = run_blocking(hub.async_fetch_structure("nobody/nothing", "main"));
  CHECK(unknown.error() == hfmm::errc::unauthorized);  // like the Hub, for an anonymous caller

  CHECK(run_blocking(hub.async_fetch_structure("../etc/passwd", "main")).error() == hfmm::errc::invalid_argument);
  CHECK(run_blocking(hub.async_fetch_structure("a/b/c", "main")).error() == hfmm::errc::invalid_argument);
  CHECK(run_blocking(hub.async_fetch_structure("org/name", "")).error() == hfmm::errc::invalid_argument);

  auto sha = run_blocking(hub.async_resolve_revision("wzshiming/gpt2", "main"));
  CHECK(sha.value() == "ae329b6937f31305a0d6c6779f6cd4072cc4097e");
}

TEST_CASE("structures added in code are served at their branch and their commit") {
  hfmm::mock_fetcher f;
  hfmm::repo_structure s{.model_id = "org/m", .branch = "main", .commit_sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  s.files.insert("a.txt", {.size = 1, .oid = "1111111111111111111111111111111111111111"});
  f.add(s);
  auto by_branch = run_blocking(f.async_fetch_structure("org/m", "main"));
  REQUIRE(by_branch);
  CHECK(by_branch->files == s.files);
  CHECK(run_blocking(f.async_fetch_structure("org/m", s.commit_sha)));
  CHECK(run_blocking(f.async_fetch_structure("org/m", "dev")).error() == hfmm::errc::revision_not_found);
  CHECK(run_blocking(f.async_fetch_structure("org/other", "main")).error() == hfmm::errc::repo_not_found);
  auto copy = f;  // copies share what was added
  CHECK(run_blocking(copy.async_resolve_revision("org/m", "main")).value() == s.commit_sha);
}

TEST_CASE("from_recordings reports a missing or malformed directory") {
  CHECK(hfmm::mock_fetcher::from_recordings("/nonexistent/dir").error() == hfmm::errc::file_not_found);
  hfmm_test::scratch_dir dir;
  hfmm_test::spit(dir / "recordings.json", R"({"exchanges": "no"})");
  CHECK(hfmm::mock_fetcher::from_recordings(dir.path).error() == hfmm::errc::bad_response);
}

TEST_CASE("fetch_huggingface_repo_structure and create_model_from_huggingface") {
  auto hub = hfmm_test::recorded_hub();
  auto s = hfmm::fetch_huggingface_repo_structure(hub, "wzshiming/gpt2");
  REQUIRE(s);
  CHECK(s->total_files() == 26);

  boost::json::object config{{"architectures", boost::json::array{"GPT2LMHeadModel"}}, {"vocab_size", 50257}};
  auto m = hfmm::create_model_from_huggingface(hub, "wzshiming/gpt2", config);
  CHECK(m.model_name == "gpt2");
  CHECK(m.architecture == "GPT2LMHeadModel");
  CHECK(m.model_type == hfmm::model_type::language_model);
  REQUIRE(m.inputs.size() == 1);
  CHECK(m.inputs[0].name == "input_ids");
  CHECK(m.inputs[0].data_type == hfmm::data_type::tokens);
  CHECK(m.inputs[0].description == "Tokenized input");
  CHECK(m.outputs[0].name == "logits");
  CHECK(m.outputs[0].data_type == hfmm::data_type::logits);
  CHECK(m.outputs[0].description == "Model output logits");
  CHECK(m.source_url == "https://huggingface.co/wzshiming/gpt2");
  CHECK(m.huggingface_config == config);
  REQUIRE(m.repository_structure);
  CHECK(m.repository_structure->commit_sha == "ae329b6937f31305a0d6c6779f6cd4072cc4097e");

  auto failed = hfmm::create_model_from_huggingface(hub, "wzshiming/does-not-exist", config);
  CHECK_FALSE(failed.repository_structure);  // the model is still returned
  CHECK(failed.model_name == "does-not-exist");

  auto no_fetch = hfmm::create_model_from_huggingface("whisper-tiny", {{"architectures", boost::json::array{"WhisperForConditionalGeneration"}}});
  CHECK(no_fetch.model_type == hfmm::model_type::audio_model);
  CHECK_FALSE(no_fetch.repository_structure);
  CHECK(hfmm::create_model_from_huggingface("o/v", {{"architectures", boost::json::array{"CLIPModel"}}}).model_type ==
        hfmm::model_type::vision_model);
  CHECK(hfmm::create_model_from_huggingface("o/x", {{"architectures", boost::json::array{}}}).architecture == "unknown");
  CHECK(hfmm::create_model_from_huggingface("o/x", {{"architectures", boost::json::array{1}}}).architecture == "unknown");
  CHECK(hfmm::create_model_from_huggingface("o/x", {}, {.architecture = "ViTModel"}).model_type ==
        hfmm::model_type::vision_model);
  CHECK(hfmm::create_model_from_huggingface("o/x", {}, {.inference_code_location = "/x.py"}).inference_code_location ==
        "/x.py");
}

TEST_CASE("model info: the recorded revision answer fills the record and the structure") {
  auto hub = hfmm_test::recorded_hub();
  auto fetched = hfmm::fetch_huggingface_model(hub, "wzshiming/gpt2");
  REQUIRE(fetched);
  CHECK(fetched->structure.total_files() == 26);
  CHECK(fetched->config == boost::json::object{{"architectures", boost::json::array{"GPT2LMHeadModel"}},
                                               {"model_type", "gpt2"},
                                               {"tokenizer_config", boost::json::object{}}});
  CHECK(fetched->license == "mit");  // cardData.license
  CHECK(fetched->tags.size() == 12);
  REQUIRE(fetched->structure.model_info);
  const auto& info = *fetched->structure.model_info;
  CHECK(info.pipeline_tag.empty());  // this repo names none
  CHECK(info.gated.empty());
  CHECK_FALSE(info.is_private);
  CHECK_FALSE(info.disabled);
  CHECK(hfmm::detail::format_timestamp(info.last_modified) == "2026-09-22T17:25:10.000000");
  CHECK(hfmm::detail::format_timestamp(info.created_at) == "2026-09-22T17:25:10.000000");
  CHECK(info.parameters == std::vector<std::pair<std::string, std::uint64_t>>{{"F32", 137022720}});
  CHECK(info.total_parameters == 137022720u);

  // A new record: what the caller leaves open comes from the Hub.
  auto m = hfmm::create_model_from_hub(hub, "wzshiming/gpt2");
  REQUIRE(m);
  CHECK(m->architecture == "GPT2LMHeadModel");
  CHECK(m->huggingface_config == fetched->config);
  CHECK(m->tags == fetched->tags);
  CHECK(m->license == "mit");
  CHECK(m->model_type == hfmm::model_type::language_model);  // no pipeline tag: the architecture rule
  CHECK(m->repository_structure->model_info == fetched->structure.model_info);
  // The Python signature gives the same record.
  CHECK(hfmm::create_model_from_huggingface(hub, "wzshiming/gpt2", {}).license == "mit");

  // What the caller passes wins.
  boost::json::object mine{{"architectures", boost::json::array{"MyArch"}}};
  auto given = hfmm::create_model_from_hub(hub, "wzshiming/gpt2", mine, {.architecture = "Chosen"});
  REQUIRE(given);
  CHECK(given->architecture == "Chosen");
  CHECK(given->huggingface_config == mine);

  // Failures are the fetch's error; ids that could leave the URL path are refused.
  CHECK(hfmm::create_model_from_hub(hub, "wzshiming/does-not-exist").error() == hfmm::errc::unauthorized);
  CHECK(hfmm::create_model_from_hub(hub, "../etc/passwd").error() == hfmm::errc::invalid_argument);
  CHECK(hfmm::create_model_from_hub(hub, "my org/my model").error() == hfmm::errc::invalid_argument);

  // Datasets are not models: no io specs.
  auto dataset = hfmm::create_model_from_hub(hub, "datasets/wzshiming/fixtures_image_utils");
  REQUIRE(dataset);
  CHECK(dataset->inputs.empty());
  CHECK(dataset->outputs.empty());
}

namespace {
/// The recorded Hub with the gpt2 revision answer edited by `edit`.
std::filesystem::path edited_hub(const hfmm_test::scratch_dir& dir, const std::function<void(boost::json::object&)>& edit) {
  auto to = dir / "hub";
  std::filesystem::copy(hfmm_test::hub_dir(), to);
  auto file = to / "wzshiming--gpt2.revision.main.json";
  auto answer = boost::json::parse(hfmm_test::slurp(file)).as_object();
  edit(answer);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << boost::json::serialize(answer);
  return to;
}
}  // namespace

TEST_CASE("model info: the pipeline tag decides the kind; odd shapes are left out, not fatal") {
  hfmm_test::scratch_dir dir;
  auto hub = hfmm::mock_fetcher::from_recordings(edited_hub(dir, [](boost::json::object& a) {
               a["pipeline_tag"] = "automatic-speech-recognition";
               a["library_name"] = "transformers";
               a["gated"] = "auto";
               a["private"] = true;
               a["cardData"].as_object()["base_model"] = boost::json::array{"org/base", 7, "org/other"};
               a["cardData"].as_object()["license"] = boost::json::array{"apache-2.0", "mit"};
               a["tags"].as_array().emplace_back(42);           // not a string: skipped
               a["safetensors"].as_object()["total"] = "many";  // not a count: left out
               a["safetensors"].as_object()["parameters"] = boost::json::object{{"F32", 5}, {"BF16", 6}, {"I8", -1}};
               a["disabled"] = "no";                            // not a bool: left out
             })).value();
  auto m = hfmm::create_model_from_hub(hub, "wzshiming/gpt2");
  REQUIRE(m);
  CHECK(m->model_type == hfmm::model_type::audio_model);
  REQUIRE(m->inputs.size() == 1);
  CHECK(m->inputs[0].name == "input_values");
  CHECK(m->inputs[0].data_type == hfmm::data_type::audio);
  CHECK(m->outputs.at(0).data_type == hfmm::data_type::logits);
  CHECK(m->license == "apache-2.0");
  CHECK(m->tags.size() == 12);
  const auto& info = *m->repository_structure->model_info;
  CHECK(info.pipeline_tag == "automatic-speech-recognition");
  CHECK(info.library_name == "transformers");
  CHECK(info.gated == "auto");
  CHECK(info.is_private);
  CHECK_FALSE(info.disabled);
  CHECK(info.total_parameters == 0);
  CHECK(info.parameters == std::vector<std::pair<std::string, std::uint64_t>>{{"BF16", 6}, {"F32", 5}});
  CHECK(info.base_models == std::vector<std::string>{"org/base", "org/other"});

  // The sha pins everything: without it the answer is refused.
  hfmm_test::scratch_dir other;
  auto no_sha = hfmm::mock_fetcher::from_recordings(edited_hub(other, [](boost::json::object& a) { a.erase("sha"); })).value();
  CHECK(hfmm::create_model_from_hub(no_sha, "wzshiming/gpt2").error() == hfmm::errc::bad_response);
}

TEST_CASE("model info: apply_model_info fills only what a record does not say") {
  auto hub = hfmm_test::recorded_hub();
  auto fetched = hfmm::fetch_huggingface_model(hub, "wzshiming/gpt2").value();
  hfmm::model_metadata bare{.model_id = "wzshiming/gpt2", .architecture = "unknown"};
  hfmm::apply_model_info(bare, fetched);
  CHECK(bare.architecture == "GPT2LMHeadModel");
  CHECK(bare.license == "mit");
  CHECK(bare.huggingface_config == fetched.config);
  CHECK(bare.inputs.size() == 1);  // derived with the architecture
  CHECK_FALSE(bare.repository_structure);  // the structure is the caller's to place

  hfmm::model_metadata curated{.model_id = "wzshiming/gpt2", .model_type = hfmm::model_type::encoder_only,
                               .architecture = "Custom"};
  curated.tags = {"mine"};
  curated.license = "apache-2.0";
  curated.huggingface_config = boost::json::object{{"n", 1}};
  auto before = curated;
  hfmm::apply_model_info(curated, fetched);
  CHECK(curated == before);
}
