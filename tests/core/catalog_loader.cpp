// The one-pass loader (detail::parse_catalog) against the DOM reader that compaction uses
// (boost::json::parse + read_model): same verdict and same models on every input. Each case
// below is a libFuzzer finding (fuzz/store_loader.cpp, inputs in fuzz/regressions/) reduced
// to its point, plus the neighbours of each rule.

#include "../support/test_support.hpp"

#include <hfmm/hfmm.hpp>

#include <boost/json/parse.hpp>

#include <limits>
#include <map>
#include <unordered_map>

namespace {

struct verdict {
  bool ok = false;
  std::string why;
  std::map<std::string, hfmm::model_metadata> models;
};

verdict by_loader(std::string_view text) {
  verdict v;
  v.ok = static_cast<bool>(hfmm::detail::parse_catalog(
      text,
      [&](std::string_view key, hfmm::model_metadata&& m) {
        v.models[std::string(key)] = std::move(m);
        return true;
      },
      &v.why));
  return v;
}

verdict by_dom(std::string_view text) {
  verdict v;
  hfmm::error_code ec;
  auto jv = boost::json::parse(text, ec);
  if (ec || !jv.is_object()) return v;
  for (const auto& [key, value] : jv.get_object()) {
    auto m = hfmm::detail::read_model(value, &v.why);
    if (!m) return verdict{.why = v.why};
    if (m->model_id.empty()) m->model_id = key;
    v.models[std::string(key)] = std::move(*m);
  }
  v.ok = true;
  return v;
}

/// A one-model catalog whose config.json entry is `entry`.
std::string with_entry(std::string_view entry) {
  return R"({"org/m":{"model_id":"org/m","repository_structure":{"model_id":"org/m","branch":"main","files":{"config.json":)" +
         std::string(entry) + "}}}}";
}

}  // namespace

TEST_CASE("the loader and the DOM reader agree on file entries of every shape") {
  const std::string oid = "\"oid\":\"" + std::string(40, 'a') + "\"";
  const std::string sha = std::string(64, 'b');
  struct row {
    std::string entry;
    bool accepted;
  };
  const std::vector<row> rows = {
      {"{\"size\":5," + oid + "}", true},
      {"{\"size\":5.0," + oid + "}", true},                                // an exact integer written as 5.0
      {"{\"size\":5.5," + oid + "}", false},
      {"{\"size\":-1," + oid + "}", false},
      {"{\"size\":true," + oid + "}", false},
      {"{\"size\":[1]," + oid + "}", false},
      {"{\"size\":null," + oid + "}", true},                               // null is absent
      {"{\"size\":1,\"oid\":7}", false},
      {"{\"size\":1,\"oid\":{\"x\":1}}", false},
      {"{\"size\":1," + oid + ",\"lfs\":\"" + sha + "\"}", false},          // fuzz: lfs as a string
      {"{\"size\":1," + oid + ",\"lfs\":[]}", false},
      {"{\"size\":1," + oid + ",\"lfs\":null}", true},
      {"{\"size\":1," + oid + ",\"lfs\":{}}", true},
      {"{\"size\":1," + oid + ",\"lfs\":{\"x\":1}}", true},                 // non-empty: an LFS file without a hash
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\",\"size\":1,\"pointerSize\":134}}", true},
      {"{\"size\":1," + oid + ",\"lfs\":{\"sha256\":\"" + sha + "\",\"size\":1,\"pointer_size\":134}}", true},
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\",\"sha256\":5}}", true},  // oid wins, sha256 unread
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":5,\"sha256\":\"" + sha + "\"}}", false},
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\",\"pointerSize\":4294967296}}", false},
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\",\"size\":-3}}", false},
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\",\"extra\":{\"size\":\"x\"}}}", true},
      {"{\"size\":1," + oid + ",\"xet_hash\":null}", true},
      {"{\"size\":1," + oid + ",\"xet_hash\":false}", false},
      {"{\"size\":1," + oid + ",\"note\":{\"size\":-1,\"lfs\":\"x\"},\"n\":[-1,true]}", true},  // unknown fields: anything
      {"{\"size\":1," + oid + ",\"size\":\"x\"}", false},                   // the last of a repeated key counts
      {"{\"size\":\"x\",\"size\":2," + oid + "}", true},
      {"{\"size\":1," + oid + ",\"lfs\":{\"oid\":\"" + sha + "\"},\"lfs\":{}}", true},
      {"[]", false},
      {"7", false},
      {"null", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.entry);
    auto text = with_entry(r.entry);
    auto loader = by_loader(text);
    auto dom = by_dom(text);
    CHECK(loader.ok == r.accepted);
    CHECK(dom.ok == r.accepted);
    if (loader.ok && dom.ok) CHECK(loader.models == dom.models);
    if (!loader.ok) CHECK(loader.why.find("config.json") != std::string::npos);
  }
}

TEST_CASE("a catalog with data after it, or a model given twice, is refused with the reason") {
  auto one = with_entry("{\"size\":1}");
  auto trailing = by_loader(one + " {\"x\":1}");  // fuzz: write_some stopped after one value
  CHECK_FALSE(trailing.ok);
  CHECK(trailing.why.find("after the catalog") != std::string::npos);
  CHECK(by_loader(one + " \n\t").ok);  // trailing whitespace is fine

  // fuzz: the DOM kept the last of two "org/m" records and never read the first
  auto twice = by_loader(R"({"org/m":{"model_id":"org/m"},"org/m":{"model_id":"org/m"}})");
  CHECK_FALSE(twice.ok);
  CHECK(twice.why.find("appears twice") != std::string::npos);

  // and through the store: refused, the file untouched
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  hfmm_test::spit(store, one + "garbage");
  hfmm::json_file_storage s(store);
  REQUIRE(s.open());
  CHECK(s.load().error() == hfmm::errc::storage_corrupt);
  CHECK(s.error_detail().find("after the catalog") != std::string::npos);
  CHECK(s.close());
  CHECK(hfmm_test::slurp(store) == one + "garbage");
}

TEST_CASE("a repeated repository_structure counts once, the last, as json.load reads it") {
  auto text = std::string(R"({"org/m":{"model_id":"org/m","repository_structure":{"files":{"a.txt":{"size":1}}},)") +
              R"("repository_structure":{"model_id":"org/m","branch":"dev"}}})";
  auto loader = by_loader(text);
  auto dom = by_dom(text);
  REQUIRE(loader.ok);
  REQUIRE(dom.ok);
  CHECK(loader.models == dom.models);
  CHECK(loader.models.at("org/m").repository_structure->files.empty());
}

TEST_CASE("a checksummed journal record hfmm did not write is refused; nothing is touched") {
  // fuzz: an upsert whose model had no model_id loaded, then made compaction throw
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  hfmm_test::spit(store, with_entry("{\"size\":1}"));
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    hfmm::model_metadata m;
    m.model_id = "org/other";
    REQUIRE(s.upsert(m));
  }  // no close(): the journal stays, as after a crash
  auto journal = store.string() + ".journal";
  for (std::string record : {R"({"op":"upsert","models":[{"model_name":"no id"}]})", R"({"op":"rename"})",
                             R"({"op":"erase","model_id":7})", R"({"op":"upsert","models":[7]})"}) {
    CAPTURE(record);
    auto before = hfmm_test::slurp(journal);
    hfmm_test::spit(journal, before + hfmm::detail::journal_line(record));
    auto base = hfmm_test::slurp(store), with_record = hfmm_test::slurp(journal);
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    CHECK(s.load().error() == hfmm::errc::storage_corrupt);
    CHECK(s.error_detail().find("is not an upsert or erase") != std::string::npos);
    CHECK(s.close());
    CHECK(hfmm_test::slurp(store) == base);
    CHECK(hfmm_test::slurp(journal) == with_record);
    hfmm_test::spit(journal, before);
  }
}

TEST_CASE("compaction replays the journal by model id, as load does, whatever key a record is filed under") {
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  // filed under another key, and a second record for the same model (load keeps the last)
  hfmm_test::spit(store, R"({"alias":{"model_id":"org/a","description":"old"},"org/b":{"model_id":"org/b"},)"
                         R"("again":{"model_id":"org/a","description":"newer"}})");
  auto ids_and_descriptions = [&] {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    auto models = s.load();
    REQUIRE(models);
    std::map<std::string, std::string> out;
    for (auto& m : *models) out[m.model_id] = m.description;
    CHECK(s.close());
    return out;
  };
  CHECK(ids_and_descriptions() == std::map<std::string, std::string>{{"org/a", "newer"}, {"org/b", ""}});
  {
    hfmm::json_file_storage s(store);
    REQUIRE(s.open());
    REQUIRE(s.load());
    REQUIRE(s.erase("org/a"));
    CHECK(s.close());  // compacts
  }
  CHECK(ids_and_descriptions() == std::map<std::string, std::string>{{"org/b", ""}});
}

TEST_CASE("numbers JSON cannot write back (1e999, infinity) are refused on read and on write") {
  // fuzz: 1e999 in an unknown lfs field loaded as infinity; compaction wrote "Infinity" and the
  // store could not be opened again
  auto text = std::string(R"({"org/m":{"model_id":"org/m","huggingface_config":{"x":1e999}}})");
  auto loader = by_loader(text);
  CHECK_FALSE(loader.ok);
  CHECK(loader.why.find("too large for a double") != std::string::npos);
  CHECK_FALSE(by_dom(text).ok);
  CHECK(by_loader(R"({"org/m":{"model_id":"org/m","huggingface_config":{"x":1e300}}})").ok);
  // fuzz: the same in an unknown field of a file entry — the loader skipped it, compaction
  // (which rewrites the file from its DOM) wrote it back as Infinity
  auto in_entry = with_entry("{\"size\":1,\"note\":1e999}");
  CHECK_FALSE(by_loader(in_entry).ok);
  CHECK_FALSE(by_dom(in_entry).ok);

  hfmm::model_metadata m;
  m.model_id = "org/inf";
  m.huggingface_config = boost::json::object{{"rope_scaling", std::numeric_limits<double>::infinity()}};
  hfmm_test::scratch_dir dir;
  auto store = dir / "catalog.json";
  {
    hfmm::json_model_manager mm{hfmm::json_file_storage(store)};
    auto added = mm.add_model(m);
    CHECK(added.error() == hfmm::errc::invalid_argument);
    CHECK(mm.storage().error_detail().find("cannot write") != std::string::npos);
    CHECK(mm.get_model("org/inf") == nullptr);  // not half-added
    hfmm::offline_model_manager memory{hfmm::memory_storage{}};
    REQUIRE(memory.add_model(m));  // nothing is serialized in memory…
    CHECK(memory.export_metadata(dir / "export.json").error() == hfmm::errc::invalid_argument);  // …until export
    CHECK_FALSE(std::filesystem::exists(dir / "export.json"));
  }
  CHECK(hfmm::json_model_manager(hfmm::json_file_storage(store)).size() == 0);
}

TEST_CASE("every record's JSON values survive the next records: the loader's reused DOM memory is copied out") {
  // Records with config objects, nested arrays, long strings and unknown keys, larger than the
  // loader's DOM buffer for some of them; each record overwrites the buffer the previous used.
  std::string text = "{";
  for (int i = 0; i < 40; ++i) {
    auto id = "org/m" + std::to_string(i);
    std::string big(i % 7 == 0 ? 30000 : 10, static_cast<char>('a' + i % 26));
    text += (i ? "," : "") + ("\"" + id + "\":{\"model_id\":\"" + id + "\",\"huggingface_config\":{\"architectures\":[\"Arch" +
                              std::to_string(i) + "\"],\"nested\":{\"n\":" + std::to_string(i) + ",\"s\":\"" + big +
                              "\"}},\"hardware_requirements\":{\"gpu\":" + std::to_string(i) +
                              "},\"unknown_field\":[" + std::to_string(i) + ",\"" + big + "\"]}");
  }
  text += "}";
  auto loaded = by_loader(text);
  auto dom = by_dom(text);
  REQUIRE(loaded.ok);
  REQUIRE(loaded.models.size() == 40);
  CHECK(loaded.models == dom.models);
  auto& m7 = loaded.models.at("org/m7");
  CHECK(m7.huggingface_config->at("nested").at("s").as_string().size() == 30000);
  CHECK(m7.extra.at("unknown_field").as_array().at(0).as_int64() == 7);
  // The copies own their memory: they outlive the loader and are independent of each other.
  CHECK(m7.huggingface_config->storage().get() == boost::json::storage_ptr().get());
  CHECK(m7.extra.storage().get() == boost::json::storage_ptr().get());
  CHECK(m7.hardware_requirements->storage().get() == boost::json::storage_ptr().get());
}

TEST_CASE("string_table (the loader's key set) agrees with std::unordered_map, empty key and clear included") {
  hfmm::detail::string_table<std::uint64_t> table;
  std::unordered_map<std::string, std::uint64_t> plain;
  std::mt19937 random(7);
  for (int round = 0; round < 2; ++round) {
    for (std::uint64_t i = 0; i < 20000; ++i) {
      // short and long keys, many repeats, one empty key
      auto n = random() % 3000;
      auto key = n == 0 ? std::string() : "org" + std::to_string(n % 97) + "/model-" + std::to_string(n) + std::string(n % 40, 'x');
      auto [value, fresh] = table.try_emplace(key, i);
      auto [it, plain_fresh] = plain.try_emplace(key, i);
      REQUIRE(fresh == plain_fresh);
      REQUIRE(*value == it->second);
    }
    CHECK(table.size() == plain.size());
    for (const auto& [key, value] : plain) REQUIRE((table.find(key) && *table.find(key) == value));
    CHECK(table.find("not/there") == nullptr);
    table.clear();
    plain.clear();
    CHECK(table.find("") == nullptr);
    CHECK(table.size() == 0);
  }
}
