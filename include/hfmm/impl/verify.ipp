#pragma once
// Bodies of <hfmm/verify.hpp>.

#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/posix_file.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hfmm {

HFMM_DECL bool is_safe_repo_path(std::string_view path) noexcept {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string_view::npos ||
      path.find('\\') != std::string_view::npos)
    return false;
  for (;;) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

HFMM_DECL std::filesystem::path default_hf_cache() {
  if (const char* v = std::getenv("HF_HUB_CACHE"); v && *v) return v;
  if (const char* v = std::getenv("HF_HOME"); v && *v) return std::filesystem::path(v) / "hub";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/") / ".cache" / "huggingface" / "hub";
}

HFMM_DECL std::string hf_cache_folder_name(const repo_structure& s) {
  std::string name(detail::repo_collection(s.repo_type));
  std::string_view id = s.model_id;
  for (;;) {
    auto slash = id.find('/');
    name += "--";
    name.append(id.substr(0, slash));
    if (slash == std::string_view::npos) break;
    id.remove_prefix(slash + 1);
  }
  return name;
}

namespace detail {

struct verify_job {
  std::string path;
  std::filesystem::path file;
  std::uint64_t size;
  std::string expected;
  bool lfs;
};

/// Hashes one file; fills a mismatch when it differs. Returns bytes hashed.
HFMM_DECL std::uint64_t verify_one(const verify_job& job, std::vector<unsigned char>& buffer,
                                std::optional<verify_mismatch>& mismatch) {
  unique_fd fd(::open(job.file.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    mismatch = verify_mismatch{job.path, job.expected, "unreadable", "read"};
    return 0;
  }
  if (static_cast<std::uint64_t>(st.st_size) != job.size) {  // no need to hash
    mismatch = verify_mismatch{job.path, std::to_string(job.size), std::to_string(st.st_size), "size"};
    return 0;
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  auto h = job.lfs ? hasher::sha256() : hasher::git_blob(job.size);
  std::uint64_t total = 0;
  for (;;) {
    auto n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      mismatch = verify_mismatch{job.path, job.expected, "unreadable", "read"};
      return total;
    }
    if (n == 0) break;
    h.update(buffer.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  auto actual = h.hex_final();
  if (actual != job.expected) mismatch = verify_mismatch{job.path, job.expected, actual, job.lfs ? "sha256" : "git-sha1"};
  return total;
}

/// `scan` holds the files; links may lead anywhere inside `root` (a cache repo folder) but
/// not outside it.
HFMM_DECL result<verify_report> verify_tree(const repo_structure& s, const std::filesystem::path& scan,
                                         const std::filesystem::path& root, const verify_options& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(scan, ec)) return errc::file_not_found;
  auto canonical_root = fs::canonical(root, ec);
  if (ec) return errc::file_not_found;
  auto inside_root = [&](const fs::path& p) {
    auto rel = p.lexically_relative(canonical_root);
    return !rel.empty() && *rel.begin() != "..";
  };

  verify_report report;
  std::vector<verify_job> jobs;
  std::set<std::string> listed;
  for (auto f : s.files) {
    std::string path(f.path());
    listed.insert(path);
    if (auto lfs = f.lfs(); lfs && lfs_pointer_oid(lfs->sha256, lfs->size) != f.oid()) report.inconsistent.push_back(path);
    if (!is_safe_repo_path(path)) {
      report.unsafe.push_back(path);
      continue;
    }
    auto full = scan / path;
    auto status = fs::symlink_status(full, ec);
    if (ec || !fs::exists(status)) {
      report.missing.push_back(path);
      continue;
    }
    auto resolved = fs::canonical(full, ec);
    if (ec) {  // a dangling link
      report.missing.push_back(path);
      continue;
    }
    if (!inside_root(resolved)) {
      report.unsafe.push_back(path);
      continue;
    }
    auto lfs = f.lfs();
    jobs.push_back({path, resolved, f.size(), lfs ? lfs->sha256 : f.oid(), lfs.has_value()});
  }

  // Files on disk the structure does not list.
  for (auto it = fs::recursive_directory_iterator(scan, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    auto rel = it->path().lexically_relative(scan).generic_string();
    if (it->is_directory() && (rel == ".git" || rel == ".cache/huggingface")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_directory() && !listed.count(rel)) report.extra.push_back(rel);
  }

  std::uint64_t bytes_total = 0;
  for (const auto& j : jobs) bytes_total += j.size;
  std::size_t threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, std::max<std::size_t>(1, jobs.size()));
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::size_t done = 0;
  std::uint64_t bytes_done = 0;
  auto work = [&] {
    std::vector<unsigned char> buffer(1 << 20);
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      std::optional<verify_mismatch> mismatch;
      auto hashed = verify_one(jobs[i], buffer, mismatch);
      std::lock_guard lock(mutex);
      ++report.checked;
      report.bytes_hashed += hashed;
      if (mismatch) report.mismatches.push_back(std::move(*mismatch));
      ++done;
      bytes_done += jobs[i].size;
      if (options.on_progress) options.on_progress({done, jobs.size(), bytes_done, bytes_total, jobs[i].path});
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  std::sort(report.mismatches.begin(), report.mismatches.end(), [](auto& a, auto& b) { return a.path < b.path; });
  std::sort(report.extra.begin(), report.extra.end());
  return report;
}

}  // namespace detail

HFMM_DECL result<verify_report> verify_local_files(const repo_structure& s, const std::filesystem::path& dir,
                                                const verify_options& options) {
  return detail::verify_tree(s, dir, dir, options);
}

HFMM_DECL result<verify_report> verify_hf_cache(const repo_structure& s, const std::filesystem::path& cache,
                                             const verify_options& options) {
  namespace fs = std::filesystem;
  if (s.model_id.empty()) return errc::invalid_argument;
  auto repo = (cache.empty() ? default_hf_cache() : cache) / hf_cache_folder_name(s);
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) return errc::file_not_found;
  std::string sha = s.commit_sha;
  if (sha.empty()) {  // unpinned: the snapshot the branch points at
    if (!is_safe_repo_path(s.branch)) return errc::invalid_argument;
    std::ifstream ref(repo / "refs" / s.branch);
    if (!ref || !std::getline(ref, sha) || sha.empty()) return errc::file_not_found;
  }
  if (!detail::is_lower_hex(sha, 40)) return errc::file_not_found;
  return detail::verify_tree(s, repo / "snapshots" / sha, repo, options);
}

}  // namespace hfmm
