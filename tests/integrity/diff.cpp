#include "../support/test_support.hpp"

#include <hfmm/detail/blocking.hpp>
#include <hfmm/diff.hpp>

TEST_CASE("diff_structures on the real gpt2 listing: added, removed, modified, renamed, unchanged") {
  auto hub = hfmm_test::recorded_hub();
  auto before = hfmm::detail::run_blocking(hub.async_fetch_structure("wzshiming/gpt2", "main")).value();
  CHECK(hfmm::diff_structures(before, before).empty());
  CHECK(hfmm::diff_structures(before, before).unchanged == 26);

  auto after = before;
  auto moved = after.files.find("onnx/decoder_model.onnx").value();
  after.files.erase("onnx/decoder_model.onnx");
  after.files.insert("onnx/v2/decoder_model.onnx", moved);          // renamed: same content
  after.files.erase("vocab.json");                                    // removed
  auto config = after.files.find("config.json").value();
  config.oid = std::string(40, 'f');
  config.size += 1;
  after.files.insert("config.json", config);                          // modified
  after.files.insert("NOTICE.md", {.size = 10, .oid = std::string(40, 'e')});  // added

  auto d = hfmm::diff_structures(before, after);
  CHECK(d.added == std::vector<std::string>{"NOTICE.md"});
  CHECK(d.removed == std::vector<std::string>{"vocab.json"});
  REQUIRE(d.modified.size() == 1);
  CHECK(d.modified[0].path == "config.json");
  CHECK(d.modified[0].before.size + 1 == d.modified[0].after.size);
  REQUIRE(d.renamed.size() == 1);
  CHECK(d.renamed[0].from == "onnx/decoder_model.onnx");
  CHECK(d.renamed[0].to == "onnx/v2/decoder_model.onnx");
  CHECK(d.unchanged == 23);

  auto back = hfmm::diff_structures(after, before);
  CHECK(back.added == std::vector<std::string>{"vocab.json"});
  CHECK(back.removed == std::vector<std::string>{"NOTICE.md"});
}
