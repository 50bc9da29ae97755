#include "../support/test_support.hpp"

#include <hfmm/detail/blocking.hpp>
#include <hfmm/fetch/mock_fetcher.hpp>
#include <hfmm/huggingface.hpp>

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
