#pragma once
// Bodies of <hfmm/pull.hpp>: the file-system side (where each file goes, what is already
// there, publishing) as plain functions, and the download coroutine as a template.

#include <hfmm/detail/blocking.hpp>
#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/posix_file.hpp>
#include <hfmm/verify.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <fnmatch.h>

namespace hfmm {
namespace detail {

/// Where one selected file goes, and what it must hash to.
struct pull_target {
  std::string path;  ///< in the repository
  std::string etag;  ///< sha256 (LFS) or git blob id: the blob's name and expected digest
  std::uint64_t size = 0;
  bool lfs = false;
  std::filesystem::path final_path, partial_path, lock_path;
};

/// The folders of one pull: the cache's repo folder (or the local directory) and its helpers.
class pull_layout {
public:
  /// Makes the folders. Errors: invalid_argument (no commit or id), storage_io.
  static result<pull_layout> make(const repo_structure& s, const pull_options& o, std::string& detail);

  bool in_cache() const noexcept { return local_dir_.empty(); }
  const std::filesystem::path& snapshot() const noexcept { return snapshot_; }
  pull_target target(const file_ref& f) const;
  /// A blob of the same name and size in another repository's folder of the cache.
  std::optional<std::filesystem::path> blob_elsewhere(const pull_target& t) const;
  /// Makes the file visible at its path: the snapshot link, or the local-dir metadata.
  result<void> publish(const pull_target& t, std::string& detail) const;
  /// Records a file the Hub says it does not have (.no_exist), as huggingface_hub does.
  void note_missing(const pull_target& t) const;
  /// refs/{branch} ← commit, when `branch` names a branch rather than the commit.
  result<void> write_ref(std::string_view branch) const;

private:
  std::string commit_;
  std::filesystem::path repo_, snapshot_, locks_, local_dir_, download_meta_;
  std::vector<std::filesystem::path> other_blob_dirs_;
};

/// Whether the regular file at `p` has the target's size and (when `rehash`) its digest.
bool file_matches(const std::filesystem::path& p, const pull_target& t, bool rehash);

/// Places a copy of `from` at `to` (a hard link when both are on one file system), atomically.
result<void> place_copy(const std::filesystem::path& from, const std::filesystem::path& to);

/// The hasher a target's digest is computed with.
inline hasher digest_hasher(const pull_target& t) { return t.lfs ? hasher::sha256() : hasher::git_blob(t.size); }

#if HFMM_DEFINE_BODIES

HFMM_DECL result<pull_layout> pull_layout::make(const repo_structure& s, const pull_options& o, std::string& detail) {
  namespace fs = std::filesystem;
  if (s.model_id.empty() || !is_lower_hex(s.commit_sha, 40)) {
    detail = "the structure of " + (s.model_id.empty() ? std::string("(no id)") : s.model_id) +
             " is not pinned to a commit: fetch it first (hfmm add)";
    return errc::invalid_argument;
  }
  pull_layout l;
  l.commit_ = s.commit_sha;
  std::error_code ec;
  if (!o.local_dir.empty()) {
    l.local_dir_ = o.local_dir;
    l.snapshot_ = o.local_dir;
    l.download_meta_ = o.local_dir / ".cache" / "huggingface" / "download";
    fs::create_directories(l.download_meta_, ec);
    if (!ec && !fs::exists(o.local_dir / ".cache" / "huggingface" / ".gitignore"))
      (void)atomic_replace(o.local_dir / ".cache" / "huggingface" / ".gitignore", "*");
  } else {
    auto cache = o.cache.empty() ? default_hf_cache() : o.cache;
    auto folder = hf_cache_folder_name(s);
    l.repo_ = cache / folder;
    l.snapshot_ = l.repo_ / "snapshots" / s.commit_sha;
    l.locks_ = cache / ".locks" / folder;
    for (const auto& dir : {l.repo_ / "blobs", l.snapshot_, l.locks_, l.repo_ / "refs"})
      if (!ec) fs::create_directories(dir, ec);
    // Other repositories' blob folders, where an identical file may already be.
    std::error_code scan_ec;
    for (fs::directory_iterator it(cache, scan_ec), end; !scan_ec && it != end; it.increment(scan_ec)) {
      auto name = it->path().filename().string();
      if (name == folder || !(name.starts_with("models--") || name.starts_with("datasets--") || name.starts_with("spaces--")))
        continue;
      if (fs::is_directory(it->path() / "blobs", scan_ec)) l.other_blob_dirs_.push_back(it->path() / "blobs");
      scan_ec.clear();
    }
  }
  if (ec) {
    detail = "cannot create the folders of " + l.snapshot_.string() + ": " + ec.message();
    return errc::storage_io;
  }
  return l;
}

HFMM_DECL pull_target pull_layout::target(const file_ref& f) const {
  pull_target t;
  t.path = std::string(f.path());
  auto lfs = f.lfs();
  t.lfs = lfs.has_value();
  t.etag = lfs ? lfs->sha256 : f.oid();
  t.size = f.size();
  if (in_cache()) {
    t.final_path = repo_ / "blobs" / t.etag;
    t.partial_path = repo_ / "blobs" / (t.etag + ".incomplete");
    t.lock_path = locks_ / (t.etag + ".lock");
  } else {
    t.final_path = local_dir_ / t.path;
    t.partial_path = download_meta_ / (t.path + "." + t.etag + ".incomplete");
    t.lock_path = download_meta_ / (t.path + ".lock");
  }
  return t;
}

HFMM_DECL std::optional<std::filesystem::path> pull_layout::blob_elsewhere(const pull_target& t) const {
  for (const auto& dir : other_blob_dirs_) {
    struct stat st;
    auto p = dir / t.etag;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == t.size) return p;
  }
  return std::nullopt;
}

HFMM_DECL result<void> pull_layout::publish(const pull_target& t, std::string& detail) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!in_cache()) {
    auto meta = download_meta_ / (t.path + ".metadata");
    fs::create_directories(meta.parent_path(), ec);
    auto stamp = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (ec || !atomic_replace(meta, commit_ + "\n" + t.etag + "\n" + std::to_string(stamp) + "\n")) {
      detail = "cannot write " + meta.string();
      return errc::storage_io;
    }
    return {};
  }
  auto link = snapshot_ / t.path;
  std::string target;
  for (auto slashes = std::count(t.path.begin(), t.path.end(), '/') + 2; slashes > 0; --slashes) target += "../";
  target += "blobs/" + t.etag;
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == target) return {};
  fs::create_directories(link.parent_path(), ec);
  // A new link under a temporary name, renamed over whatever was there: never a moment without one.
  auto temporary = link;
  temporary += ".hfmm-link-" + std::to_string(::getpid());
  ::unlink(temporary.c_str());
  if (ec || ::symlink(target.c_str(), temporary.c_str()) != 0 || ::rename(temporary.c_str(), link.c_str()) != 0) {
    ::unlink(temporary.c_str());
    detail = "cannot link " + link.string() + " to " + target;
    return errc::storage_io;
  }
  return {};
}

HFMM_DECL void pull_layout::note_missing(const pull_target& t) const {
  if (!in_cache()) return;
  auto marker = repo_ / ".no_exist" / commit_ / t.path;
  std::error_code ec;
  std::filesystem::create_directories(marker.parent_path(), ec);
  unique_fd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

HFMM_DECL result<void> pull_layout::write_ref(std::string_view branch) const {
  if (!in_cache() || branch.empty() || branch == commit_ || !is_safe_repo_path(branch)) return {};
  auto ref = repo_ / "refs" / std::string(branch);
  std::error_code ec;
  std::filesystem::create_directories(ref.parent_path(), ec);
  if (ec) return errc::storage_io;
  return atomic_replace(ref, commit_);  // no newline, as huggingface_hub writes it
}

HFMM_DECL bool file_matches(const std::filesystem::path& p, const pull_target& t, bool rehash) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != t.size)
    return false;
  if (!rehash) return true;
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  auto h = digest_hasher(t);
  if (!for_each_chunk(fd.get(), [&](std::string_view piece) -> result<void> {
        h.update(piece);
        return {};
      }))
    return false;
  return h.hex_final() == t.etag;
}

HFMM_DECL result<void> place_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
  auto temporary = to;
  temporary += ".hfmm-copy-" + std::to_string(::getpid());
  ::unlink(temporary.c_str());
  std::error_code ec;
  if (::link(from.c_str(), temporary.c_str()) != 0)  // another file system: copy the bytes
    std::filesystem::copy_file(from, temporary, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec || ::rename(temporary.c_str(), to.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return errc::storage_io;
  }
  return {};
}

#endif  // HFMM_DEFINE_BODIES

/// Hashes the pieces of downloads on worker threads, in order per file, beside the thread that
/// receives, decrypts and writes them. Hashing inline made that one thread do what curl does
/// plus SHA-256 (pull ran at 0.70 of curl's throughput on loopback); writing on the worker too
/// made the worker the slower side. Each file is bound to one worker; the network thread waits
/// while `max_pending_bytes` are queued.
class background_hasher {
public:
  /// One download's side of it. Touch `digest` only after drain().
  struct file {
    hasher* digest = nullptr;
    std::size_t worker = 0;
    std::size_t queued = 0;  ///< pieces not yet hashed (guarded by the mutex)
  };

  explicit background_hasher(std::size_t workers, std::size_t max_pending_bytes = 16u << 20)
      : queues_(std::max<std::size_t>(1, workers)), max_pending_(max_pending_bytes) {
    for (std::size_t i = 0; i < queues_.size(); ++i) threads_.emplace_back([this, i] { work(i); });
  }
  background_hasher(const background_hasher&) = delete;
  background_hasher& operator=(const background_hasher&) = delete;
  ~background_hasher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void bind(file& f) { f.worker = next_worker_++ % queues_.size(); }

  /// A buffer of `size` bytes for the next piece (from the pool); waits while
  /// `max_pending_bytes` are queued.
  std::vector<char> acquire(std::size_t size) {
    std::vector<char> buffer;
    {
      std::unique_lock lock(mutex_);
      done_cv_.wait(lock, [&] { return pending_ < max_pending_; });
      if (!pool_.empty()) {
        buffer = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    buffer.resize(size);
    return buffer;
  }

  /// Queues the first `n` bytes of `piece` to be hashed into `f.digest` after the pieces before it.
  void hash(file& f, std::vector<char> piece, std::size_t n) {
    {
      std::lock_guard lock(mutex_);
      pending_ += n;
      ++f.queued;
      queues_[f.worker].push_back({&f, std::move(piece), n});
    }
    work_cv_.notify_all();
  }

  /// Queues a copy of `bytes`.
  void hash(file& f, std::string_view bytes) {
    auto piece = acquire(bytes.size());
    std::copy(bytes.begin(), bytes.end(), piece.begin());
    hash(f, std::move(piece), bytes.size());
  }

  /// Waits until every queued piece of `f` is hashed.
  void drain(file& f) {
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return f.queued == 0; });
  }

private:
  struct piece {
    file* owner;
    std::vector<char> bytes;
    std::size_t size;  ///< of `bytes`, the part to hash
  };

  void work(std::size_t index) {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stopping_ || !queues_[index].empty(); });
      if (queues_[index].empty()) return;  // stopping, nothing left
      auto p = std::move(queues_[index].front());
      queues_[index].pop_front();
      lock.unlock();
      p.owner->digest->update(p.bytes.data(), p.size);
      lock.lock();
      pending_ -= p.size;
      --p.owner->queued;
      pool_.push_back(std::move(p.bytes));
      done_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::deque<piece>> queues_;
  std::vector<std::vector<char>> pool_;
  std::vector<std::thread> threads_;
  std::size_t max_pending_, pending_ = 0, next_worker_ = 0;
  bool stopping_ = false;
};

/// The pieces a download is read in, for the hasher: 64 KiB stay in the worker's L2 cache
/// (256 KiB measured the same, 1 MiB 25% slower on bench/pull).
inline constexpr std::size_t pull_piece_bytes = 64 * 1024;

/// One file's download into its partial file, hashed as written (by a background_hasher worker).
struct partial_download {
  const pull_target& target;
  std::uint64_t& counted;  ///< the pull's bytes done: grows with `written`, shrinks on a restart
  background_hasher& hashing;
  unique_fd fd;
  hasher digest;
  background_hasher::file sink;
  std::vector<char> piece;  ///< the buffer the fetcher fills next, handed to the hasher whole
  std::uint64_t written = 0;  ///< bytes in the partial file (hashed once drained)
  std::uint64_t resumed_from = 0;
  std::string detail;

  partial_download(const pull_target& t, std::uint64_t& counted_bytes, background_hasher& h)
      : target(t), counted(counted_bytes), hashing(h), digest(digest_hasher(t)) {}
  partial_download(const partial_download&) = delete;
  partial_download& operator=(const partial_download&) = delete;
  ~partial_download() { hashing.drain(sink); }  // a worker may still hash into `digest`

  /// Opens (or creates) the partial file and hashes what an earlier run left in it.
  result<void> open() {
    fd.reset(::open(target.partial_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) {
      detail = "cannot create " + target.partial_path.string() + ": " + std::strerror(errno);
      return errc::storage_io;
    }
    sink.digest = &digest;
    hashing.bind(sink);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errc::storage_io;
    if (static_cast<std::uint64_t>(st.st_size) > target.size) return restart();
    auto ok = for_each_chunk(fd.get(), [&](std::string_view piece) -> result<void> {
      digest.update(piece);
      written += piece.size();
      return {};
    });
    if (!ok) return restart();
    resumed_from = written;
    counted += written;
    return {};
  }

  /// Empties the partial file: the next bytes are the file's first.
  result<void> restart() {
    hashing.drain(sink);
    if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
      detail = "cannot truncate " + target.partial_path.string();
      return errc::storage_io;
    }
    digest = digest_hasher(target);
    counted -= std::min(counted, written);
    written = 0;
    return {};
  }

  error_code on_head(const http_response& head) {
    // The Hub's own answers (they carry X-Repo-Commit) name the file's digest in their ETag:
    // a different one is another file, refused before a byte is written.
    if (!head.header("X-Repo-Commit").empty())
      if (auto etag = parse_etag(head.header("ETag")); !etag.empty() && etag != target.etag) {
        detail = "the server names this file " + std::string(etag) + ", the catalog " + target.etag;
        return errc::hash_mismatch;
      }
    if (head.status == 206) {
      auto range = parse_content_range(head.header("Content-Range"));
      if (!range || !range->first || *range->first != written || (range->total && *range->total != target.size)) {
        detail = "the server answered a range other than the one asked for (" + std::string(head.header("Content-Range")) + ")";
        return errc::bad_response;
      }
      return {};
    }
    // 200: the whole file (a server without ranges, or If-Range said the file changed).
    if (written > 0)
      if (auto ok = restart(); !ok) return ok.error();
    return {};
  }

  std::span<char> next_buffer() {
    piece = hashing.acquire(pull_piece_bytes);
    return piece;
  }

  error_code on_data(std::string_view bytes) {
    if (written + bytes.size() > target.size) {
      detail = "the server sent more than the " + std::to_string(target.size) + " bytes the catalog lists";
      return errc::bad_response;
    }
    if (!write_all(fd.get(), bytes)) {
      detail = "cannot write " + target.partial_path.string() + ": " + std::strerror(errno);
      return errc::storage_io;
    }
    if (bytes.data() == piece.data()) hashing.hash(sink, std::move(piece), bytes.size());  // no copy
    else hashing.hash(sink, bytes);
    written += bytes.size();
    counted += bytes.size();
    return {};
  }

  /// fsyncs and renames the partial file into place when its digest is the expected one.
  result<void> finish() {
    hashing.drain(sink);
    auto actual = digest.hex_final();
    if (actual != target.etag) {
      detail = std::string(target.lfs ? "sha256" : "git-sha1") + " of the downloaded bytes is " + actual + ", the catalog says " +
               target.etag;
      return errc::hash_mismatch;
    }
    if (::rename(target.partial_path.c_str(), target.final_path.c_str()) != 0) {
      detail = "cannot move " + target.partial_path.string() + " to " + target.final_path.string() + ": " + std::strerror(errno);
      return errc::storage_io;
    }
    fd.reset();
    return {};
  }

  void discard() {
    fd.reset();
    ::unlink(target.partial_path.c_str());
  }
};

/// A broken or stalled transfer, worth continuing from where it got to.
inline bool resumable_failure(const error_code& ec) {
  return ec == errc::timeout || ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
         ec == boost::asio::error::broken_pipe || ec == boost::asio::error::connection_aborted ||
         ec == boost::asio::error::connection_refused || ec == boost::beast::http::error::end_of_stream ||
         ec == boost::beast::http::error::partial_message || ec == boost::asio::ssl::error::stream_truncated;
}

/// The state all workers of one pull share (they run on one executor, one at a time).
template <class Fetcher>
struct pull_run {
  Fetcher& fetcher;
  const pull_options& options;
  const pull_layout& layout;
  background_hasher& hashing;
  std::string url_prefix;
  std::vector<pull_target> targets;
  std::size_t next = 0, done = 0;
  std::uint64_t bytes_done = 0;
  pull_report& report;

  void progress(std::string_view current) {
    if (options.on_progress)
      options.on_progress({done, targets.size(), bytes_done, report.bytes_total, report.bytes_downloaded, current});
  }
  void fail(const pull_target& t, error_code ec, std::string detail) {
    if (detail.empty()) detail = ec.message();
    report.failed.push_back({t.path, ec, std::move(detail)});
  }
};

template <class Fetcher>
boost::asio::awaitable<void> pull_sleep(std::chrono::milliseconds d) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  error_code ignored;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

/// Downloads one target into place; false when it failed (recorded in the report).
template <class Fetcher>
boost::asio::awaitable<bool> pull_download(pull_run<Fetcher>& run, const pull_target& t) {
  partial_download part(t, run.bytes_done, run.hashing);
  if (auto ok = part.open(); !ok) {
    run.fail(t, ok.error(), part.detail);
    co_return false;
  }
  if (part.resumed_from > 0) ++run.report.resumed;
  std::string url = run.url_prefix;
  append_encoded_path(url, t.path);
  bool retried_from_zero = false;
  for (int resumes = 0;;) {
    error_code failure;
    if (part.written < t.size || t.size == 0) {
      download_stream stream;
      stream.from = part.written;
      stream.if_range = t.etag;
      stream.on_head = [&](const http_response& head) { return part.on_head(head); };
      stream.next_buffer = [&] { return part.next_buffer(); };
      stream.on_data = [&](std::string_view bytes) -> error_code {
        if (run.options.stop.stop_requested()) return boost::asio::error::operation_aborted;
        if (auto ec = part.on_data(bytes)) return ec;
        run.report.bytes_downloaded += bytes.size();
        run.progress(t.path);
        return {};
      };
      auto answer = co_await run.fetcher.async_download(url, stream);
      if (!answer) failure = answer.error();
      else if (answer->status == 416 && stream.from > 0) {
        // The partial file is longer than what the server has: start again from 0.
        if (auto ok = part.restart(); !ok) failure = ok.error();
        else if (++resumes > run.options.max_resumes) failure = errc::http_status;
        if (!failure) continue;
      } else if (auto ec = classify_response(*answer)) {
        if (ec == errc::file_not_found) run.layout.note_missing(t);
        part.discard();
        std::string why = "HTTP " + std::to_string(answer->status);
        if (auto code = answer->header("X-Error-Code"); !code.empty()) why += " " + std::string(code);
        run.fail(t, ec, why + " for " + url);
        co_return false;
      } else if (part.written < t.size) {
        failure = boost::beast::http::error::partial_message;  // the answer ended early
      }
    }
    if (failure) {
      if (run.options.stop.stop_requested()) {
        run.report.stopped = true;  // the partial file stays for the next pull
        co_return false;
      }
      if (resumable_failure(failure) && resumes < run.options.max_resumes) {
        ++resumes;
        co_await pull_sleep<Fetcher>(std::chrono::milliseconds(100) * resumes);
        continue;
      }
      run.fail(t, failure, part.detail.empty() ? failure.message() + " after " + std::to_string(part.written) + " of " +
                                                       std::to_string(t.size) + " bytes of " + url
                                               : part.detail);
      co_return false;  // a partial file of right bytes stays for the next pull
    }
    auto finished = part.finish();
    if (finished) co_return true;
    if (finished.error() == errc::hash_mismatch && part.resumed_from > 0 && !retried_from_zero) {
      // The earlier run's bytes may be the wrong ones: once more from byte 0.
      retried_from_zero = true;
      part.resumed_from = 0;
      if (auto ok = part.restart(); !ok) {
        run.fail(t, ok.error(), part.detail);
        co_return false;
      }
      continue;
    }
    if (finished.error() == errc::hash_mismatch) part.discard();
    run.fail(t, finished.error(), part.detail);
    co_return false;
  }
}

/// One file: present, linked from another repository, or downloaded.
template <class Fetcher>
boost::asio::awaitable<void> pull_one(pull_run<Fetcher>& run, const pull_target& t) {
  auto& report = run.report;
  if (!is_safe_repo_path(t.path)) {
    run.fail(t, errc::invalid_argument, "the path is not safe to write (absolute, \"..\" or empty segments)");
    co_return;
  }
  std::string detail;
  auto finish = [&](std::size_t& counter) -> bool {
    if (auto ok = run.layout.publish(t, detail); !ok) {
      run.fail(t, ok.error(), detail);
      return false;
    }
    ++counter;
    return true;
  };
  if (!run.layout.in_cache()) {
    std::error_code ec;
    std::filesystem::create_directories(t.final_path.parent_path(), ec);
    std::filesystem::create_directories(t.partial_path.parent_path(), ec);
  }
  // Another process (hfmm or huggingface_hub) writing the same blob holds its lock: wait.
  result<unique_fd> lock = lock_exclusive(t.lock_path);
  while (!lock && lock.error() == errc::storage_locked && !run.options.stop.stop_requested()) {
    co_await pull_sleep<Fetcher>(std::chrono::milliseconds(200));
    lock = lock_exclusive(t.lock_path);
  }
  if (!lock) {
    if (run.options.stop.stop_requested()) report.stopped = true;
    else run.fail(t, lock.error(), "cannot lock " + t.lock_path.string());
    co_return;
  }
  if (file_matches(t.final_path, t, run.options.recheck_existing)) {
    if (finish(report.present)) run.bytes_done += t.size;
    co_return;
  }
  if (run.layout.in_cache()) {
    ::unlink(t.final_path.c_str());  // not the catalog's bytes (or absent): never left under blobs/
    if (auto other = run.layout.blob_elsewhere(t); other && file_matches(*other, t, true) && place_copy(*other, t.final_path)) {
      if (finish(report.linked)) run.bytes_done += t.size;
      co_return;
    }
  }
  if (co_await pull_download(run, t)) finish(report.downloaded);
}

template <class Fetcher>
boost::asio::awaitable<void> pull_worker(pull_run<Fetcher>& run) {
  while (run.next < run.targets.size() && !run.options.stop.stop_requested()) {
    const auto& t = run.targets[run.next++];
    co_await pull_one(run, t);
    ++run.done;
    run.progress(t.path);
  }
  if (run.options.stop.stop_requested()) run.report.stopped = true;
}

}  // namespace detail

template <download_fetcher Fetcher>
boost::asio::awaitable<result<pull_report>> async_pull(Fetcher& fetcher, const repo_structure& s, pull_options options) {
  namespace asio = boost::asio;
  std::string detail;
  auto layout = detail::pull_layout::make(s, options, detail);
  if (!layout) co_return layout.error();
  pull_report report;
  report.model_id = s.model_id;
  report.commit_sha = s.commit_sha;
  report.snapshot = layout->snapshot();
  // Hashing beside the network thread; more than one worker only where there are cores for them.
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  detail::background_hasher hashing(std::clamp<std::size_t>(cores - 1, 1, 4));
  detail::pull_run<Fetcher> run{fetcher, options, *layout, hashing,
                                standard_url_prefix(fetcher.endpoint(), s.repo_type, s.model_id, s.commit_sha),
                                {}, 0, 0, 0, report};
  for (auto f : s.files) {
    if (!pull_selects(f.path(), options)) continue;
    run.targets.push_back(layout->target(f));
    report.bytes_total += f.size();
  }
  report.files = run.targets.size();

  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  std::size_t running = std::clamp<std::size_t>(options.concurrency, 1, std::max<std::size_t>(1, run.targets.size()));
  std::exception_ptr failure;
  for (std::size_t i = 0, n = running; i < n; ++i)
    asio::co_spawn(ex, detail::pull_worker(run), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--running == 0) all_done.cancel();
    });
  // Workers start inline (co_spawn dispatches) and may all be done already.
  error_code ignored;
  if (running > 0) co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  if (failure) std::rethrow_exception(failure);
  if (!report.stopped) (void)layout->write_ref(s.branch);
  std::sort(report.failed.begin(), report.failed.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  co_return report;
}

template <download_fetcher Fetcher>
result<pull_report> pull(Fetcher& fetcher, const repo_structure& s, const pull_options& options) {
  return detail::run_blocking(async_pull(fetcher, s, options));
}

#if HFMM_DEFINE_BODIES
HFMM_DECL bool pull_selects(std::string_view path, const pull_options& options) {
  auto matches = [&](const std::vector<std::string>& patterns) {
    std::string p(path);
    for (auto pattern : patterns) {
      if (pattern.ends_with('/')) pattern += '*';
      if (::fnmatch(pattern.c_str(), p.c_str(), 0) == 0) return true;
    }
    return false;
  };
  return (options.include.empty() || matches(options.include)) && !matches(options.exclude);
}
#endif

}  // namespace hfmm
