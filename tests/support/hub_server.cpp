// A Hub on loopback for the tool's end-to-end tests and the pull benchmark: hosts the files
// of local directories as repositories (see local_hub::host_repo) until SIGINT or SIGTERM.
//
//   hfmm_test_hub --port-file F --cert-file C --stats-file S [--plain] [--rate BYTES_PER_S]
//                 [--lfs-from BYTES] ID=DIR[@COMMIT] ...
//
// Files of at least --lfs-from bytes (default 100 000) are LFS files (served through the CDN
// redirect). The stats file holds the body bytes of files served so far, rewritten after each.
#include "local_hub.hpp"

#include <csignal>
#include <iostream>

namespace {

void write_atomically(const std::filesystem::path& p, const std::string& text) {
  auto tmp = p;
  tmp += ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, p);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  hfmm_test::local_hub::options o;
  fs::path port_file, cert_file, stats_file;
  std::uint64_t lfs_from = 100'000;
  std::vector<std::string> repos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "hfmm_test_hub: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port-file") port_file = value();
    else if (a == "--cert-file") cert_file = value();
    else if (a == "--stats-file") stats_file = value();
    else if (a == "--plain") o.tls = false;
    else if (a == "--rate") o.file_bytes_per_second = std::stoull(value());
    else if (a == "--lfs-from") lfs_from = std::stoull(value());
    else repos.push_back(a);
  }
  if (port_file.empty() || repos.empty()) {
    std::cerr << "usage: hfmm_test_hub --port-file F [--cert-file C] [--stats-file S] [--plain] [--rate B/s] "
                 "[--lfs-from BYTES] ID=DIR[@COMMIT] ...\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server's thread starts: it inherits the mask

  hfmm_test::local_hub hub(o);
  for (const auto& spec : repos) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      std::cerr << "hfmm_test_hub: " << spec << ": expected ID=DIR[@COMMIT]\n";
      return 2;
    }
    std::string id = spec.substr(0, eq), dir = spec.substr(eq + 1), commit = "c0ffee0000000000000000000000000000000001";
    if (auto at = dir.rfind('@'); at != std::string::npos) commit = dir.substr(at + 1), dir.resize(at);
    std::vector<hfmm_test::hosted_file> files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      auto content = read_file(e.path());
      bool lfs = content.size() >= lfs_from;
      files.push_back({e.path().lexically_relative(dir).generic_string(), std::move(content), lfs});
    }
    hub.host_repo(id, commit, std::move(files));
  }
  if (!cert_file.empty()) hub.write_certificate(cert_file);
  std::atomic<bool> running{true};
  std::thread stats([&] {
    std::uint64_t last = ~0ull;
    while (running) {
      if (auto now = hub.file_bytes_served(); !stats_file.empty() && now != last) {
        write_atomically(stats_file, std::to_string(now) + "\n");
        last = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  write_atomically(port_file, std::to_string(hub.port()) + "\n");
  int sig = 0;
  sigwait(&signals, &sig);
  running = false;
  stats.join();
  if (!stats_file.empty()) write_atomically(stats_file, std::to_string(hub.file_bytes_served()) + "\n");
  return 0;
}
