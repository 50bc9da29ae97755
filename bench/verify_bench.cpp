// Verify throughput (DESIGN §7): SHA-256 of a large LFS file through verify_local_files on one
// thread, warm page cache, against `openssl speed -evp sha256` (16 384-byte blocks) run by
// bench/run on the same machine.
//
//   verify_bench [--mb N] [--runs K]     prints {"verify_MBps": ..., "git_sha1_MBps": ...}
#include <hfmm/detail/digest.hpp>
#include <hfmm/verify.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

int main(int argc, char** argv) {
  std::size_t mb = 512;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mb")) mb = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  auto dir = std::filesystem::temp_directory_path() / "hfmm-verify-bench";
  std::filesystem::create_directories(dir);
  std::string block(1 << 20, '\0');
  std::mt19937_64 rng(7);
  for (auto& c : block) c = static_cast<char>(rng());
  auto sha = hfmm::detail::hasher::sha256();
  auto blob = hfmm::detail::hasher::git_blob(mb << 20);
  {
    std::ofstream out(dir / "weights.bin", std::ios::binary);
    for (std::size_t i = 0; i < mb; ++i) out.write(block.data(), static_cast<std::streamsize>(block.size())), sha.update(block), blob.update(block);
  }
  std::uint64_t size = mb << 20;
  auto sha256 = sha.hex_final();
  auto measure = [&](hfmm::repo_structure s) {
    std::vector<double> mbps;
    for (int r = 0; r < runs + 1; ++r) {  // the first run warms the page cache
      auto t0 = std::chrono::steady_clock::now();
      auto report = hfmm::verify_local_files(s, dir, {.threads = 1});
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!report || !report->ok()) return -1.0;
      if (r) mbps.push_back(static_cast<double>(size) / secs / 1e6);
    }
    std::sort(mbps.begin(), mbps.end());
    return mbps[mbps.size() / 2];
  };
  hfmm::repo_structure lfs{.model_id = "bench/verify"};
  lfs.files.insert("weights.bin", {.size = size, .oid = hfmm::lfs_pointer_oid(sha256, size),
                                   .lfs = hfmm::lfs_info{sha256, size, hfmm::lfs_pointer_size(size)}});
  hfmm::repo_structure plain{.model_id = "bench/verify"};
  plain.files.insert("weights.bin", {.size = size, .oid = blob.hex_final()});
  double lfs_mbps = measure(lfs), git_mbps = measure(plain);
  std::filesystem::remove_all(dir);
  std::cout << "{\"verify_sha256_MBps\":" << lfs_mbps << ",\"verify_git_sha1_MBps\":" << git_mbps << "}\n";
}
