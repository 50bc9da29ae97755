#include "../support/test_support.hpp"

#include <hfmm/detail/digest.hpp>
#include <hfmm/verify.hpp>

namespace fs = std::filesystem;

namespace {
// A repository on disk and its structure, the way the Hub would list it.
struct local_repo {
  hfmm_test::scratch_dir dir;
  hfmm::repo_structure structure{.model_id = "org/model", .commit_sha = std::string(40, 'c')};

  void add(const std::string& path, const std::string& content, bool lfs, const fs::path& root) {
    fs::create_directories((root / path).parent_path());
    hfmm_test::spit(root / path, content);
    hfmm::file_entry e{.size = content.size()};
    if (lfs) {
      auto sha = hfmm::detail::sha256_hex(content);
      e.lfs = hfmm::lfs_info{sha, content.size(), hfmm::lfs_pointer_size(content.size())};
      e.oid = hfmm::lfs_pointer_oid(sha, content.size());
    } else {
      e.oid = hfmm::detail::git_blob_oid(content);
    }
    structure.files.insert(path, e);
  }
  void populate(const fs::path& root) {
    add("config.json", R"({"model_type": "gpt2"})", false, root);
    add("model.safetensors", std::string(3 << 20, '\x42') + "tail", true, root);
    add("onnx/decoder_model.onnx", std::string(100000, 'o'), true, root);
    add("tokenizer.json", "{}", false, root);
    add("empty.txt", "", false, root);
  }
};
}  // namespace

TEST_CASE("git blob ids and SHA-256 match the reference values") {
  CHECK(hfmm::detail::git_blob_oid("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a");  // git hash-object
  CHECK(hfmm::detail::git_blob_oid("") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  CHECK(hfmm::detail::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("verify_local_files: an intact copy, then each kind of damage") {
  local_repo r;
  r.populate(r.dir.path);
  std::size_t progress_calls = 0;
  auto report = hfmm::verify_local_files(r.structure, r.dir.path, {.threads = 3, .on_progress = [&](const hfmm::verify_progress& p) {
                                                                     ++progress_calls;
                                                                     CHECK(p.files_total == 5);
                                                                   }});
  REQUIRE(report);
  CHECK(report->ok());
  CHECK(report->checked == 5);
  CHECK(report->bytes_hashed == r.structure.total_size());
  CHECK(progress_calls == 5);

  // One flipped byte in an LFS file, a truncated regular file, a deleted file, an extra file.
  {
    std::fstream f(r.dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x43');
  }
  hfmm_test::spit(r.dir / "config.json", R"({"model_type": "gpt3"})");  // same size, other content
  fs::remove(r.dir / "tokenizer.json");
  hfmm_test::spit(r.dir / "notes.txt", "mine");
  hfmm_test::spit(r.dir / "onnx/decoder_model.onnx", "short");
  fs::create_directories(r.dir / ".cache/huggingface");
  hfmm_test::spit(r.dir / ".cache/huggingface/download.lock", "");  // huggingface_hub's own files are ignored

  report = hfmm::verify_local_files(r.structure, r.dir.path, {.threads = 1});
  REQUIRE(report);
  CHECK_FALSE(report->ok());
  REQUIRE(report->mismatches.size() == 3);
  CHECK(report->mismatches[0].path == "config.json");
  CHECK(report->mismatches[0].algorithm == "git-sha1");
  CHECK(report->mismatches[1].path == "model.safetensors");
  CHECK(report->mismatches[1].algorithm == "sha256");
  CHECK(report->mismatches[1].expected == r.structure.files.find("model.safetensors")->lfs->sha256);
  CHECK(report->mismatches[2].path == "onnx/decoder_model.onnx");
  CHECK(report->mismatches[2].algorithm == "size");
  CHECK(report->missing == std::vector<std::string>{"tokenizer.json"});
  CHECK(report->extra == std::vector<std::string>{"notes.txt"});
}

TEST_CASE("verify_local_files: Hub paths are never trusted") {
  local_repo r;
  r.populate(r.dir.path);
  hfmm_test::scratch_dir outside;
  hfmm_test::spit(outside / "secret", "s");
  fs::create_symlink(outside / "secret", r.dir / "link-out");
  r.structure.files.insert("link-out", {.size = 1, .oid = hfmm::detail::git_blob_oid("s")});
  for (auto bad : {"../escape", "/etc/passwd", "a//b", "./config.json", "onnx/../../x"})
    r.structure.files.insert(bad, {.size = 1, .oid = std::string(40, '0')});
  // An LFS entry whose oid is not its pointer's blob id.
  r.structure.files.insert("bogus.bin", {.size = 4, .oid = std::string(40, '1'),
                                         .lfs = hfmm::lfs_info{std::string(64, 'a'), 4, 126}});
  hfmm_test::spit(r.dir / "bogus.bin", "abcd");
  auto report = hfmm::verify_local_files(r.structure, r.dir.path);
  REQUIRE(report);
  std::sort(report->unsafe.begin(), report->unsafe.end());
  CHECK(report->unsafe == std::vector<std::string>{"../escape", "./config.json", "/etc/passwd", "a//b", "link-out", "onnx/../../x"});
  CHECK(report->inconsistent == std::vector<std::string>{"bogus.bin"});
  CHECK(hfmm::verify_local_files(r.structure, r.dir / "nope").error() == hfmm::errc::file_not_found);
  CHECK(hfmm::is_safe_repo_path("onnx/model.onnx"));
  CHECK_FALSE(hfmm::is_safe_repo_path(""));
}

TEST_CASE("verify_hf_cache: snapshots that link into blobs/, pinned or through refs/") {
  hfmm_test::scratch_dir cache;
  local_repo r;
  auto repo = cache / "models--org--model";
  auto blobs = repo / "blobs";
  auto snapshot = repo / "snapshots" / r.structure.commit_sha;
  fs::create_directories(blobs);
  r.populate(blobs / "staging");
  // Move each file into blobs/<hash> and link it from the snapshot, as huggingface_hub does.
  for (auto f : r.structure.files) {
    auto lfs = f.lfs();
    auto blob = blobs / (lfs ? lfs->sha256 : f.oid());
    fs::rename(blobs / "staging" / std::string(f.path()), blob);
    auto link = snapshot / std::string(f.path());
    fs::create_directories(link.parent_path());
    fs::create_symlink(fs::relative(blob, link.parent_path()), link);
  }
  fs::remove_all(blobs / "staging");
  CHECK(hfmm::hf_cache_folder_name(r.structure) == "models--org--model");

  auto report = hfmm::verify_hf_cache(r.structure, cache.path, {.threads = 2});
  REQUIRE(report);
  CHECK(report->ok());
  CHECK(report->checked == 5);

  auto unpinned = r.structure;
  unpinned.commit_sha.clear();
  CHECK(hfmm::verify_hf_cache(unpinned, cache.path).error() == hfmm::errc::file_not_found);  // no refs/main yet
  fs::create_directories(repo / "refs");
  hfmm_test::spit(repo / "refs" / "main", r.structure.commit_sha);
  CHECK(hfmm::verify_hf_cache(unpinned, cache.path)->ok());

  ::setenv("HF_HUB_CACHE", cache.path.c_str(), 1);
  CHECK(hfmm::default_hf_cache() == cache.path);
  CHECK(hfmm::verify_hf_cache(r.structure)->ok());
  ::unsetenv("HF_HUB_CACHE");

  auto other = r.structure;
  other.model_id = "org/absent";
  CHECK(hfmm::verify_hf_cache(other, cache.path).error() == hfmm::errc::file_not_found);
}
