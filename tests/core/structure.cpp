#include "../support/test_support.hpp"

#include <hfmm/structure.hpp>
#include <hfmm/detail/blocking.hpp>

namespace {
hfmm::repo_structure fetch(std::string_view id, std::string_view rev = "main") {
  auto hub = hfmm_test::recorded_hub();
  auto s = hfmm::detail::run_blocking(hub.async_fetch_structure(id, rev));
  REQUIRE(s);
  return *s;
}
}  // namespace

TEST_CASE("the recorded gpt2 recursive listing becomes a commit-pinned structure") {
  auto s = fetch("wzshiming/gpt2");
  CHECK(s.model_id == "wzshiming/gpt2");
  CHECK(s.repo_type == hfmm::repo_type::model);
  CHECK(s.branch == "main");
  CHECK(s.commit_sha == "ae329b6937f31305a0d6c6779f6cd4072cc4097e");
  CHECK(s.total_files() == 26);
  CHECK(s.total_size() == 5632417295ull);
  CHECK(hfmm::list_files_by_extension(s, "").size() == 26);
  std::size_t in_onnx = 0, lfs = 0;
  for (auto f : s.files) {
    in_onnx += f.path().starts_with("onnx/");
    lfs += f.is_lfs();
  }
  CHECK(in_onnx == 10);
  CHECK(lfs == 11);
  CHECK_FALSE(s.files.contains("onnx"));  // directories are not files

  CHECK(hfmm::get_file_hash_from_structure(s, "config.json") == "10c66461e4c109db5a2196bff4bb59be30396ed8");
  CHECK_FALSE(hfmm::get_file_hash_from_structure(s, "Config.json"));  // case-sensitive
  CHECK(hfmm::get_file_sha256_from_structure(s, "model.safetensors") ==
        "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707");
  CHECK_FALSE(hfmm::get_file_sha256_from_structure(s, "config.json"));  // not LFS

  auto config = s.files.find("config.json");
  REQUIRE(config);
  CHECK(config->size == 665);
  CHECK_FALSE(config->lfs);
  CHECK_FALSE(config->xet_hash);
  CHECK(config->download_url ==
        "https://huggingface.co/wzshiming/gpt2/resolve/ae329b6937f31305a0d6c6779f6cd4072cc4097e/config.json");

  auto tflite = s.files.find("64-8bits.tflite");
  REQUIRE(tflite);
  REQUIRE(tflite->lfs);
  CHECK(tflite->lfs->size == tflite->size);
  CHECK(tflite->xet_hash);
}

TEST_CASE("every LFS oid in the real listings is the blob id of its pointer (sha256, size)") {
  for (auto id : {"wzshiming/gpt2", "google-bert/bert-base-uncased", "FluidInference/parakeet-tdt-0.6b-v3-coreml"}) {
    auto s = fetch(id);
    std::size_t checked = 0;
    for (auto f : s.files) {
      auto lfs = f.lfs();
      if (!lfs) continue;
      CHECK(hfmm::lfs_pointer_oid(lfs->sha256, lfs->size) == f.oid());
      CHECK(hfmm::lfs_pointer_size(lfs->size) == lfs->pointer_size);
      ++checked;
    }
    CHECK(checked > 0);
  }
}

TEST_CASE("list_files_by_extension is a sorted, case-sensitive suffix match") {
  auto s = fetch("wzshiming/gpt2");
  auto onnx = hfmm::list_files_by_extension(s, ".onnx");
  CHECK(onnx.size() == 3);
  CHECK(std::is_sorted(onnx.begin(), onnx.end()));
  for (const auto& p : onnx) CHECK(p.starts_with("onnx/"));
  CHECK(hfmm::list_files_by_extension(s, ".json").size() == 11);
  CHECK(hfmm::list_files_by_extension(s, ".JSON").empty());
  CHECK(hfmm::list_files_by_extension(s, ".safetensors") == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("look-ups on an absent structure give empty results") {
  std::optional<hfmm::repo_structure> none;
  const hfmm::repo_structure* null = nullptr;
  CHECK_FALSE(hfmm::get_file_hash_from_structure(none, "config.json"));
  CHECK_FALSE(hfmm::get_file_hash_from_structure(null, "config.json"));
  CHECK(hfmm::list_files_by_extension(none, "").empty());
  CHECK(hfmm::list_files_by_extension(null, ".json").empty());
  CHECK_FALSE(hfmm::get_file_sha256_from_structure(none, "x"));
  CHECK_FALSE(hfmm::get_file_sha256_from_structure(null, "x"));
  auto s = fetch("wzshiming/gpt2");
  std::optional<hfmm::repo_structure> some = s;
  CHECK(hfmm::get_file_hash_from_structure(some, "vocab.json") == hfmm::get_file_hash_from_structure(&s, "vocab.json"));
}

TEST_CASE("file_table keeps entries path-sorted, replaces on insert and keeps odd values verbatim") {
  hfmm::file_table t;
  t.set_url_prefix("https://hub.example/org/m/resolve/main/");
  t.insert("b.txt", {.size = 2, .oid = "0000000000000000000000000000000000000002",
                     .download_url = "https://hub.example/org/m/resolve/main/b.txt"});
  t.insert("a b.txt", {.size = 1, .oid = "NOT-HEX", .download_url = "https://hub.example/org/m/resolve/main/a%20b.txt"});
  t.insert("c.bin", {.size = 3, .oid = "0000000000000000000000000000000000000003",
                     .lfs = hfmm::lfs_info{"ABCDEF", 3, 128}, .xet_hash = "not-a-digest",
                     .download_url = "https://mirror.example/c.bin"});
  t.insert("d", {.size = 0, .oid = "0000000000000000000000000000000000000004"});
  REQUIRE(t.size() == 4);
  CHECK(t[0].path() == "a b.txt");
  CHECK(t[3].path() == "d");
  CHECK(t.find("a b.txt")->oid == "NOT-HEX");
  CHECK(t.find("a b.txt")->download_url == "https://hub.example/org/m/resolve/main/a%20b.txt");
  CHECK(t.find("c.bin")->lfs->sha256 == "ABCDEF");
  CHECK(t.find("c.bin")->xet_hash == "not-a-digest");
  CHECK(t.find("c.bin")->download_url == "https://mirror.example/c.bin");
  CHECK(t.find("d")->download_url.empty());
  CHECK(t.total_size() == 6);

  t.insert("b.txt", {.size = 20, .oid = "0000000000000000000000000000000000000020"});
  CHECK(t.size() == 4);
  CHECK(t.find("b.txt")->size == 20);
  CHECK(t.find("b.txt")->download_url.empty());

  auto before = t;
  t.set_url_prefix("https://other.example/");
  CHECK(t == before);  // every entry keeps its URL
  CHECK(t.erase("a b.txt"));
  CHECK_FALSE(t.erase("a b.txt"));
  CHECK(t.size() == 3);
  CHECK_FALSE(t == before);
}

TEST_CASE("file_table keeps LFS sizes that differ from the derived ones, and forgets replaced odd values") {
  hfmm::file_table t;
  const std::string sha(64, 'a');
  t.insert("standard.bin", {.size = 1000, .oid = hfmm::lfs_pointer_oid(sha, 1000), .lfs = hfmm::lfs_info{sha, 1000, 129}});
  t.insert("other-size.bin", {.size = 7, .oid = "0000000000000000000000000000000000000007", .lfs = hfmm::lfs_info{sha, 9, 128}});
  t.insert("odd-pointer.bin", {.size = 5, .oid = "0000000000000000000000000000000000000005", .lfs = hfmm::lfs_info{sha, 5, 0}});
  CHECK(hfmm::lfs_pointer_size(1000) == 129);
  CHECK(hfmm::lfs_pointer_size(0) == 126);
  CHECK(hfmm::lfs_pointer_size(18446744073709551615ull) == 145);
  CHECK(t.find("standard.bin")->lfs == hfmm::lfs_info{sha, 1000, 129});
  CHECK(t.find("other-size.bin")->lfs == hfmm::lfs_info{sha, 9, 128});
  CHECK(t.find("odd-pointer.bin")->lfs == hfmm::lfs_info{sha, 5, 0});
  // Records hold sizes below 2^56; larger ones (no real file) are kept aside, exactly.
  for (std::uint64_t size : {(1ull << 56) - 1, 1ull << 56, 18446744073709551615ull}) {
    t.insert("huge.bin", {.size = size, .oid = hfmm::lfs_pointer_oid(sha, size), .lfs = hfmm::lfs_info{sha, size, 145}});
    CHECK(t.find("huge.bin")->size == size);
    CHECK(t.find("huge.bin")->lfs->size == size);
  }
  CHECK(t.total_size() == 18446744073709551615ull + 1000 + 7 + 5);  // wraps, as unsigned sums do

  // Replacing an entry whose values were kept verbatim leaves none of them behind.
  t.insert("odd-pointer.bin", {.size = 5, .oid = "NOT-HEX", .download_url = "https://mirror.example/x"});
  t.insert("odd-pointer.bin", {.size = 6, .oid = "0000000000000000000000000000000000000006"});
  CHECK(t.find("odd-pointer.bin") == hfmm::file_entry{.size = 6, .oid = "0000000000000000000000000000000000000006"});
  CHECK(t.erase("other-size.bin"));
  t.insert("other-size.bin", {.size = 7, .oid = "0000000000000000000000000000000000000007", .lfs = hfmm::lfs_info{sha, 7, 127}});
  CHECK(t.find("other-size.bin")->lfs == hfmm::lfs_info{sha, 7, 127});
}

TEST_CASE("paths are interned once per process; ids survive copies and every table reads them") {
  auto& pool = hfmm::detail::path_pool::instance();
  auto a = pool.intern("onnx/decoder_model.onnx");
  CHECK(pool.intern("onnx/decoder_model.onnx") == a);
  CHECK(pool.intern("onnx/decoder_model.onnx_data") != a);
  CHECK(pool[a] == "onnx/decoder_model.onnx");
  CHECK(pool[pool.intern("")].empty());
  // Longer than a chunk: stored on its own, read back whole; small paths go on after it.
  std::string huge(3u << 20, 'x');
  huge += "/end";
  auto h = pool.intern(huge);
  CHECK(pool[h] == huge);
  CHECK(pool.intern(huge) == h);
  CHECK(pool[pool.intern("after-huge.txt")] == "after-huge.txt");
  // Many distinct paths (the hash index grows) keep their ids.
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(pool.intern("dir" + std::to_string(i % 97) + "/file-" + std::to_string(i)));
  for (int i = 0; i < 20000; i += 7) {
    auto path = "dir" + std::to_string(i % 97) + "/file-" + std::to_string(i);
    CHECK(pool[ids[i]] == path);
    CHECK(pool.intern(path) == ids[i]);
  }
  hfmm::file_table t;
  t.insert(huge, {.size = 1, .oid = "0000000000000000000000000000000000000001"});
  auto copy = t;
  t.clear();
  REQUIRE(copy.size() == 1);
  CHECK(copy[0].path() == huge);
}

TEST_CASE("a structure's file table is compact: binary digests and derived URLs") {
  auto s = fetch("FluidInference/parakeet-tdt-0.6b-v3-coreml");
  REQUIRE(s.total_files() == 84);
  // Fixed-size records and LFS digests only: no hex strings, no URLs, paths in the shared pool.
  std::size_t lfs = 0;
  for (auto f : s.files) lfs += f.is_lfs();
  CHECK(s.files.memory_bytes() <= s.total_files() * 36 + lfs * 64 + s.files.url_prefix().capacity() + 1);
}
