#pragma once
// Pull: download exactly the files a repo_structure pins, verified while they are written.
//
// Into the Hugging Face cache, as huggingface_hub lays it out (so transformers and every other
// client use what hfmm pulled):
//   {cache}/models--org--name/blobs/{etag}             sha256 for LFS files, the git blob id otherwise
//   {cache}/models--org--name/blobs/{etag}.incomplete  a partial download (resumed by the next pull)
//   {cache}/models--org--name/blobs/{etag}.incomplete.{offset}  bytes from {offset} on, fetched ahead
//   {cache}/models--org--name/snapshots/{commit}/{path} -> ../../blobs/{etag}  (one more ../ per directory)
//   {cache}/models--org--name/refs/{branch}            the commit, when the structure names a branch
//   {cache}/models--org--name/.no_exist/{commit}/{path} a file the Hub says it does not have
//   {cache}/.locks/models--org--name/{etag}.lock       flock while a blob is written
// or into a plain directory (pull_options::local_dir): {dir}/{path}, with huggingface_hub's
// {dir}/.cache/huggingface/download/{path}.metadata (commit, etag, time), `.lock` and
// `{path}.{etag}.incomplete` beside it.
//
// Every byte is hashed as it arrives: SHA-256 for LFS files, the git blob SHA-1 otherwise. A file
// is renamed into place only when its digest is the catalog's; a mismatch fails that file with
// hash_mismatch and deletes what was written (a file resumed from an earlier run's partial is
// first tried once more from byte 0, since the partial itself may be what was wrong). A blob
// already in the cache — in this repository or another one, identical tokenizers and
// .gitattributes are common — is hashed (unless recheck_existing is false) and linked, not
// downloaded. A cut connection is resumed from the bytes written (`Range`, with `If-Range` on
// the endpoint's origin); a partial left by a killed run is resumed by the next one.
//
// Several connections per large file (pull_options::min_range_bytes, off by default): a
// connection with no file left to start takes the second half of what another connection of a
// download has left (`Range: bytes=a-b`) and writes it to `{partial}.{a}`; the file's main
// stream appends those bytes to the partial file, hashing them, when it reaches `a`. The partial
// file thus stays a contiguous prefix (huggingface_hub resumes a `.incomplete` from its size),
// the digest is still computed in order, and a killed run's part files are taken up by the next.
// A server that answers a range with a 200 gets one connection for that file. Files are
// not fsynced before the rename (huggingface_hub does not either; it cost 15% of the throughput
// on loopback): a blob a power loss tears is found by the next pull, which rehashes what is in
// place (recheck_existing), and by hfmm verify. Hashing runs on a thread beside the one that
// receives and writes (bench/pull measures the throughput against curl's, every byte hashed).
//
// Whole-pull errors: invalid_argument (no commit sha, no repo id), storage_io (the cache
// folders cannot be made). Per-file failures are in pull_report::failed and the rest goes on:
// hash_mismatch, file_not_found (the Hub says EntryNotFound), invalid_argument (an unsafe path),
// storage_io (a write failed), and the fetcher's errors (offline, timeout, http_status, ...).
//
// The coroutine runs `concurrency` files at once on the caller's executor (one thread, like the
// fetcher); the fetcher's connection limit and rate-limit pacing apply across all of them.

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/fetch/download.hpp>
#include <hfmm/structure.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hfmm {

struct pull_progress {
  std::size_t files_done = 0, files_total = 0;
  std::uint64_t bytes_done = 0, bytes_total = 0;  ///< done: downloaded, linked or present
  std::uint64_t bytes_downloaded = 0;              ///< from the network, this run
  std::string_view current;                        ///< the file that moved
};

struct pull_options {
  std::filesystem::path cache;      ///< the Hugging Face cache; empty: HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub
  std::filesystem::path local_dir;  ///< non-empty: plain files in this directory instead of the cache
  /// Shell patterns on the repository path (fnmatch, `*` also crosses `/`; "dir/" means
  /// "dir/*"). A file is pulled when it matches an include (or none is given) and no exclude.
  std::vector<std::string> include, exclude;
  std::size_t concurrency = 8;  ///< connections at once (files, or ranges of large files)
  bool recheck_existing = true;  ///< hash files already in place before counting them
  int max_resumes = 5;           ///< per file and run, after a cut connection
  /// A download with at least twice this much left can be split: a connection with no file left
  /// to start fetches the second half into a part file (`<partial>.<offset>`), which the file's
  /// main stream appends and hashes when it gets there. It pays where one connection is slower
  /// than the link (a CDN); where the CPU is the limit (loopback) the read-back costs 7%, so
  /// 0, one connection per file, is the default.
  std::uint64_t min_range_bytes = 0;
  std::function<void(const pull_progress&)> on_progress;
  std::stop_token stop;  ///< stops between pieces; partial files stay for the next pull
};

struct pull_failure {
  std::string path;
  error_code error;
  std::string detail;  ///< what happened, for a person ("expected sha256 ab…, got 3f…")
};

struct pull_report {
  std::string model_id, commit_sha;
  std::filesystem::path snapshot;  ///< snapshots/{commit} in the cache, or the local directory
  std::size_t files = 0;           ///< selected by the patterns
  std::size_t downloaded = 0;      ///< fetched (wholly or in part) this run
  std::size_t linked = 0;          ///< found in another repository's blobs
  std::size_t present = 0;         ///< already in place
  std::size_t resumed = 0;         ///< downloads that continued a partial file
  std::uint64_t bytes_total = 0;       ///< of the selected files
  std::uint64_t bytes_downloaded = 0;  ///< body bytes received this run
  std::vector<pull_failure> failed;
  bool stopped = false;  ///< the stop token ended the pull early
  bool ok() const noexcept { return failed.empty() && !stopped; }
};

/// Whether `path` is selected by the include and exclude patterns of `options`.
bool pull_selects(std::string_view path, const pull_options& options);

/// Pulls the files of `s` (which must be pinned to a commit) selected by `options`.
template <download_fetcher Fetcher>
boost::asio::awaitable<result<pull_report>> async_pull(Fetcher& fetcher, const repo_structure& s,
                                                       pull_options options = {});

/// The blocking twin of async_pull (runs a private io_context).
template <download_fetcher Fetcher>
result<pull_report> pull(Fetcher& fetcher, const repo_structure& s, const pull_options& options = {});

}  // namespace hfmm

#include <hfmm/impl/pull.ipp>
