#pragma once
// Is a local copy intact? verify_local_files checks a directory against a repo_structure,
// verify_hf_cache a Hugging Face cache snapshot.
//
// Every file is size-checked, then hashed with OpenSSL EVP in large reads: SHA-256 for LFS
// files (against lfs.sha256), the git blob SHA-1 for the others (against oid). Files are
// hashed in parallel on `threads` threads (0: all cores). Hub paths are never trusted:
// absolute paths, "..", empty segments and links resolving outside the root are reported in
// `unsafe` and never opened. Regular files on disk that the structure does not list are
// reported in `extra` (".git/" and ".cache/huggingface/" are ignored). LFS entries whose oid
// is not the blob id of their pointer (sha256, size) are reported in `inconsistent` — a
// listing check that needs no download.
//
// Errors: file_not_found (no such directory, or no snapshot for the structure's commit in
// the cache), invalid_argument (the cache has no such repo folder name). Per-file read
// errors are reported as mismatches with algorithm "read". on_progress is called from the
// worker threads, one call at a time.

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/structure.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hfmm {

struct verify_progress {
  std::size_t files_done = 0, files_total = 0;
  std::uint64_t bytes_done = 0, bytes_total = 0;
  std::string_view current;
};

struct verify_options {
  std::size_t threads = 0;  ///< 0: all cores
  std::function<void(const verify_progress&)> on_progress;
};

struct verify_mismatch {
  std::string path, expected, actual;
  std::string algorithm;  ///< "size", "sha256", "git-sha1" or "read"
  bool operator==(const verify_mismatch&) const = default;
};

struct verify_report {
  std::size_t checked = 0;        ///< files compared (sizes and hashes)
  std::uint64_t bytes_hashed = 0;
  std::vector<verify_mismatch> mismatches;
  std::vector<std::string> missing, extra, unsafe;
  std::vector<std::string> inconsistent;  ///< LFS entries whose oid does not match their pointer
  bool ok() const noexcept {
    return mismatches.empty() && missing.empty() && extra.empty() && unsafe.empty() && inconsistent.empty();
  }
  bool operator==(const verify_report&) const = default;
};

result<verify_report> verify_local_files(const repo_structure& s, const std::filesystem::path& dir,
                                         const verify_options& options = {});

/// `cache` empty: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
result<verify_report> verify_hf_cache(const repo_structure& s, const std::filesystem::path& cache = {},
                                      const verify_options& options = {});

/// "models--org--name" (datasets--, spaces--) for a structure.
std::string hf_cache_folder_name(const repo_structure& s);
std::filesystem::path default_hf_cache();

/// Whether a Hub path is safe to join to a local root: relative, no "..", "." or empty segments.
bool is_safe_repo_path(std::string_view path) noexcept;

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/verify.ipp>
#endif
