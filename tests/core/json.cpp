#include "../support/test_support.hpp"

#include <hfmm/json.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace json = boost::json;

namespace {
hfmm::model_metadata full_model() {
  hfmm::model_metadata m;
  m.model_id = "org/model";
  m.model_name = "model";
  m.model_type = hfmm::model_type::encoder_decoder;
  m.architecture = "T5ForConditionalGeneration";
  m.inputs = {{.name = "input_ids", .data_type = hfmm::data_type::tokens, .shape = std::vector<std::optional<std::int64_t>>{std::nullopt, 512},
               .dtype = "int64", .description = "ids", .optional = false},
              {.name = "mask", .data_type = hfmm::data_type::features, .optional = true}};
  m.outputs = {{.name = "logits", .data_type = hfmm::data_type::logits}};
  m.huggingface_config = json::object{{"architectures", json::array{"T5ForConditionalGeneration"}}, {"d_model", 512}};
  m.inference_code_location = "/srv/t5.py";
  m.supported_backends = {"cpu", "cuda"};
  m.hardware_requirements = json::object{{"min_memory_gb", 4}};
  m.performance_metrics = json::object{{"tokens_per_s", 120.5}};
  m.tags = {"t5", "translation"};
  m.source_url = "https://huggingface.co/org/model";
  m.license = "apache-2.0";
  m.description = "A test model";
  hfmm::repo_structure s;
  s.model_id = "org/model";
  s.commit_sha = "0123456789abcdef0123456789abcdef01234567";
  s.fetched_at = *hfmm::detail::parse_timestamp("2026-11-27T10:00:00.123456");
  s.files.set_url_prefix(hfmm::standard_url_prefix("https://huggingface.co", hfmm::repo_type::model, "org/model", s.commit_sha));
  s.files.insert("config.json", {.size = 10, .oid = "1111111111111111111111111111111111111111",
                                 .download_url = s.files.url_prefix() + "config.json"});
  s.files.insert("model.safetensors",
                 {.size = 1000, .oid = hfmm::lfs_pointer_oid(std::string(64, 'a'), 1000),
                  .lfs = hfmm::lfs_info{std::string(64, 'a'), 1000, hfmm::lfs_pointer_size(1000)},
                  .xet_hash = std::string(64, 'b'), .download_url = s.files.url_prefix() + "model.safetensors"});
  auto prev = std::make_shared<hfmm::repo_structure>(s);
  prev->commit_sha = "fedcba9876543210fedcba9876543210fedcba98";
  prev->files.erase("config.json");
  s.previous = prev;
  s.model_info = hfmm::hub_model_info{.pipeline_tag = "translation",
                                      .library_name = "transformers",
                                      .gated = "manual",
                                      .is_private = true,
                                      .disabled = false,
                                      .last_modified = *hfmm::detail::parse_timestamp("2026-09-22T17:25:10.000Z"),
                                      .created_at = *hfmm::detail::parse_timestamp("2025-01-01T00:00:00"),
                                      .parameters = {{"BF16", 7000}, {"F32", 12}},
                                      .total_parameters = 7012,
                                      .base_models = {"org/base", "org/other-base"}};
  m.repository_structure = s;
  m.created_at = *hfmm::detail::parse_timestamp("2026-01-02T03:04:05");
  m.updated_at = *hfmm::detail::parse_timestamp("2026-11-27T10:00:00.000001Z");
  m.extra = json::object{{"owner_team", "ml-platform"}, {"nested", json::object{{"k", json::array{1, 2}}}}};
  return m;
}
}  // namespace

TEST_CASE("model_metadata round-trips every field, the structure's extras and unknown keys") {
  auto m = full_model();
  auto jv = json::value_from(m);
  const auto& o = jv.as_object();
  CHECK(o.size() == 18 + 2);
  CHECK(o.at("model_type") == "encoder_decoder");
  CHECK(o.at("inputs").as_array()[0].at("data_type") == "tokens");
  CHECK(o.at("owner_team") == "ml-platform");
  const auto& rs = o.at("repository_structure").as_object();
  CHECK(rs.at("total_files") == 2);
  CHECK(rs.at("total_size") == 1010);
  CHECK(rs.at("commit_sha") == "0123456789abcdef0123456789abcdef01234567");
  CHECK(rs.at("fetched_at") == "2026-11-27T10:00:00.123456");
  const auto& st = rs.at("files").at("model.safetensors").as_object();
  CHECK(st.at("lfs").at("oid").as_string() == std::string(64, 'a'));
  CHECK(st.at("lfs").at("pointerSize") == 129);
  CHECK(st.at("xet_hash").as_string() == std::string(64, 'b'));
  CHECK(rs.at("files").at("config.json").at("lfs").as_object().empty());
  CHECK_FALSE(rs.at("files").at("config.json").as_object().contains("xet_hash"));
  CHECK(rs.at("previous").at("total_files") == 1);
  const auto& info = rs.at("model_info").as_object();  // the Hub's model info, inside the structure
  CHECK(info.at("pipeline_tag") == "translation");
  CHECK(info.at("gated") == "manual");
  CHECK(info.at("private") == true);
  CHECK(info.at("last_modified") == "2026-09-22T17:25:10.000000");
  CHECK(json::serialize(info.at("parameters")) == R"({"BF16":7000,"F32":12})");  // sorted by dtype
  CHECK(info.at("base_models").as_array().size() == 2);

  auto text = json::serialize(jv);
  auto back = json::try_value_to<hfmm::model_metadata>(json::parse(text));
  REQUIRE(back);
  CHECK(*back == m);
  CHECK(json::serialize(json::value_from(*back)) == text);  // canonical writing is stable
}

TEST_CASE("absent optional fields are null in the record and omitted in the structure") {
  hfmm::model_metadata m{.model_id = "x"};
  m.repository_structure = hfmm::repo_structure{.model_id = "x"};
  auto o = json::value_from(m).as_object();
  CHECK(o.at("huggingface_config").is_null());
  CHECK(o.at("license").is_null());
  const auto& rs = o.at("repository_structure").as_object();
  CHECK_FALSE(rs.contains("commit_sha"));
  CHECK_FALSE(rs.contains("previous"));
  CHECK_FALSE(rs.contains("model_info"));
  hfmm::model_metadata bare{.model_id = "y"};
  CHECK(json::value_from(bare).at("repository_structure").is_null());
}

TEST_CASE("a record in the Python Model Manager's layout with legacy spellings loads") {
  auto text = R"({
    "model_id": "gpt2", "model_name": "gpt2", "model_type": "ModelType.LANGUAGE_MODEL", "architecture": "GPT2LMHeadModel",
    "inputs": [{"name": "input_ids", "data_type": "DataType.TOKENS", "shape": [null, 1024], "dtype": "int64",
                "description": "Tokenized input", "optional": false}],
    "outputs": [{"name": "logits", "data_type": "logits"}],
    "huggingface_config": {"vocab_size": 50257}, "inference_code_location": null, "supported_backends": [],
    "hardware_requirements": null, "performance_metrics": null, "tags": ["gpt2"], "source_url": null, "license": null,
    "description": "", "created_at": "2023-10-15T10:30:00", "updated_at": "2023-10-15T10:30:00.5+02:00",
    "repository_structure": {"model_id": "gpt2", "branch": "main", "fetched_at": "2023-10-15T10:30:00.000Z",
      "files": {"pytorch_model.bin": {"size": 503382240, "oid": "7cb18dc9bafbfcf74629a4b760af1b160957a83e",
                  "lfs": {"size": 503382240, "sha256": "7cb18dc9bafbfcf74629a4b760af1b160957a83e", "pointer_size": 135},
                  "download_url": "https://huggingface.co/gpt2/resolve/main/pytorch_model.bin"},
                "config.json": {"size": 665, "lfs": {}, "oid": "6e3c55a11b8e2e30a4fdbee5b1fb8e28c2c4b8f0",
                  "download_url": "https://huggingface.co/gpt2/resolve/main/config.json"}},
      "total_files": 99, "total_size": 1}
  })";
  std::string why;
  auto m = hfmm::detail::read_model(json::parse(text), &why);
  REQUIRE_MESSAGE(m, why);
  CHECK(m->model_type == hfmm::model_type::language_model);
  CHECK(m->inputs.at(0).data_type == hfmm::data_type::tokens);
  CHECK(m->inputs.at(0).shape->at(0) == std::nullopt);
  CHECK(m->inputs.at(0).shape->at(1) == 1024);
  CHECK(hfmm::detail::format_timestamp(m->updated_at) == "2023-10-15T08:30:00.500000");
  const auto& s = *m->repository_structure;
  CHECK(s.total_files() == 2);  // recomputed, the stored 99 is ignored
  CHECK(s.total_size() == 503382240 + 665);
  auto bin = s.files.find("pytorch_model.bin");
  REQUIRE(bin->lfs);
  CHECK(bin->lfs->sha256 == "7cb18dc9bafbfcf74629a4b760af1b160957a83e");  // kept verbatim though not a sha256
  CHECK(bin->lfs->pointer_size == 135);
  CHECK(bin->download_url == "https://huggingface.co/gpt2/resolve/main/pytorch_model.bin");
  CHECK_FALSE(s.files.find("config.json")->lfs);
  CHECK(s.files.url_prefix() == "https://huggingface.co/gpt2/resolve/main/");
  // Written back canonically.
  auto out = json::value_from(*m);
  CHECK(out.at("model_type") == "language_model");
  CHECK(out.at("inputs").at(0).at("data_type") == "tokens");
  CHECK(out.at("repository_structure").at("files").at("pytorch_model.bin").at("lfs").at("pointerSize") == 135);
}

TEST_CASE("wrong JSON types are refused with the field named") {
  std::string why;
  auto m = hfmm::detail::read_model(json::parse(R"({"model_id":"a","tags":"not-a-list"})"), &why);
  CHECK(m.error() == hfmm::errc::invalid_argument);
  CHECK(why.find("\"tags\"") != std::string::npos);
  why.clear();
  m = hfmm::detail::read_model(json::parse(R"({"model_id":"a","inputs":[{"data_type":"DataType.SMELL"}]})"), &why);
  CHECK_FALSE(m);
  CHECK(why.find("data_type") != std::string::npos);
  CHECK_FALSE(json::try_value_to<hfmm::file_entry>(json::parse(R"({"size":-1})")));
  CHECK_FALSE(json::try_value_to<hfmm::io_spec>(json::parse("[]")));
  CHECK_THROWS(json::value_to<hfmm::repo_structure>(json::parse(R"({"files":[]})")));
}

TEST_CASE("enum names parse in both spellings and nothing else") {
  CHECK(hfmm::parse_data_type("tokens") == hfmm::data_type::tokens);
  CHECK(hfmm::parse_data_type("DataType.TOKENS") == hfmm::data_type::tokens);
  CHECK_FALSE(hfmm::parse_data_type("TOKENS"));
  CHECK_FALSE(hfmm::parse_data_type("DataType.NOPE"));
  CHECK(hfmm::parse_model_type("ModelType.VISION_MODEL") == hfmm::model_type::vision_model);
  CHECK(hfmm::to_string(hfmm::model_type::decoder_only) == "decoder_only");
  for (int i = 0; i < 8; ++i) {
    auto t = static_cast<hfmm::data_type>(i);
    CHECK(hfmm::parse_data_type(hfmm::to_string(t)) == t);
  }
}

TEST_CASE("time is written naive UTC with six fraction digits and read in ISO variants") {
  using hfmm::detail::parse_timestamp;
  auto t = parse_timestamp("2026-11-27T10:00:00");
  REQUIRE(t);
  CHECK(hfmm::detail::format_timestamp(*t) == "2026-11-27T10:00:00.000000");
  CHECK(parse_timestamp("2026-11-27T10:00:00Z") == t);
  CHECK(parse_timestamp("2026-11-27T11:30:00+01:30") == t);
  CHECK(parse_timestamp("2026-11-27 10:00:00.000000") == t);
  CHECK(parse_timestamp("2026-11-27T10:00:00.1234567")->time_since_epoch().count() % 1000000 == 123456);
  CHECK_FALSE(parse_timestamp("2026-13-01T00:00:00"));
  CHECK_FALSE(parse_timestamp("yesterday"));
  CHECK_FALSE(parse_timestamp("2026-11-27T10:00:00.")); 
}
