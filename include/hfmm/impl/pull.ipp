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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

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
  /// The part files of ranges an earlier run fetched ahead, by the partial file they belong to.
  std::map<std::filesystem::path, std::vector<std::uint64_t>> leftover_parts() const;

private:
  std::string commit_;
  std::filesystem::path repo_, snapshot_, locks_, local_dir_, download_meta_;
  /// The blobs of the cache's other repositories, by name (listed once: a stat per file and
  /// repository grew as files × repositories).
  std::unordered_map<std::string, std::filesystem::path> other_blobs_;
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
    // Other repositories' blobs, where an identical file may already be.
    std::error_code scan_ec;
    for (fs::directory_iterator it(cache, scan_ec), end; !scan_ec && it != end; it.increment(scan_ec)) {
      auto name = it->path().filename().string();
      if (name == folder || !(name.starts_with("models--") || name.starts_with("datasets--") || name.starts_with("spaces--")))
        continue;
      std::error_code blobs_ec;
      for (fs::directory_iterator b(it->path() / "blobs", blobs_ec), b_end; !blobs_ec && b != b_end; b.increment(blobs_ec))
        l.other_blobs_.emplace(b->path().filename().string(), b->path());
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
  t.lfs = f.is_lfs();
  t.etag = detail::content_key(f);
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

HFMM_DECL std::map<std::filesystem::path, std::vector<std::uint64_t>> pull_layout::leftover_parts() const {
  namespace fs = std::filesystem;
  std::map<fs::path, std::vector<std::uint64_t>> out;
  auto note = [&](const fs::path& p) {
    auto name = p.filename().string();
    auto dot = name.rfind('.');
    std::uint64_t start = 0;
    if (dot == std::string::npos || !std::string_view(name).substr(0, dot).ends_with(".incomplete") ||
        !parse_decimal(std::string_view(name).substr(dot + 1), start))
      return;
    out[p.parent_path() / name.substr(0, dot)].push_back(start);
  };
  std::error_code ec;
  if (in_cache()) {
    for (fs::directory_iterator it(repo_ / "blobs", ec), end; !ec && it != end; it.increment(ec)) note(it->path());
  } else {
    for (fs::recursive_directory_iterator it(download_meta_, ec), end; !ec && it != end; it.increment(ec)) note(it->path());
  }
  return out;
}

HFMM_DECL std::optional<std::filesystem::path> pull_layout::blob_elsewhere(const pull_target& t) const {
  auto found = other_blobs_.find(t.etag);
  struct stat st;
  if (found == other_blobs_.end() || ::stat(found->second.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != t.size)
    return std::nullopt;
  return found->second;
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
      wait_done(lock, [&] { return pending_ < max_pending_; });
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
    bool wake;
    {
      std::lock_guard lock(mutex_);
      pending_ += n;
      ++f.queued;
      queues_[f.worker].push_back({&f, std::move(piece), n});
      wake = idle_workers_ > 0;
    }
    if (wake) work_cv_.notify_all();
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
    wait_done(lock, [&] { return f.queued == 0; });
  }

private:
  struct piece {
    file* owner;
    std::vector<char> bytes;
    std::size_t size;  ///< of `bytes`, the part to hash
  };

  // A futex wake per 64 KiB piece cost more than the hashing's lock: wake only a waiting side.
  template <class Ready>
  void wait_done(std::unique_lock<std::mutex>& lock, Ready ready) {
    ++done_waiters_;
    done_cv_.wait(lock, ready);
    --done_waiters_;
  }

  void work(std::size_t index) {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_workers_;
      work_cv_.wait(lock, [&] { return stopping_ || !queues_[index].empty(); });
      --idle_workers_;
      if (queues_[index].empty()) return;  // stopping, nothing left
      auto p = std::move(queues_[index].front());
      queues_[index].pop_front();
      lock.unlock();
      p.owner->digest->update(p.bytes.data(), p.size);
      lock.lock();
      pending_ -= p.size;
      --p.owner->queued;
      pool_.push_back(std::move(p.bytes));
      if (done_waiters_ > 0) done_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::deque<piece>> queues_;
  std::vector<std::vector<char>> pool_;
  std::vector<std::thread> threads_;
  std::size_t max_pending_, pending_ = 0, next_worker_ = 0, idle_workers_ = 0, done_waiters_ = 0;
  bool stopping_ = false;
};

/// Wakes the coroutines waiting for something to change (a range grew or ended, a download
/// started or ended). The timer never expires: notify() cancels the waits, which then return.
/// (Not a coroutine itself: an inline coroutine costs compile time in every TU that includes it.)
struct change_signal {
  explicit change_signal(const boost::asio::any_io_executor& ex) : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  void notify() {
    if (waiters_ == 0) return;  // a futex-free no-op while nobody waits
    waiters_ = 0;               // cancel() wakes every one of them
    timer_.cancel();
  }
  auto wait() {
    ++waiters_;
    return timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, woken_));
  }

private:
  boost::asio::steady_timer timer_;
  std::size_t waiters_ = 0;
  error_code woken_;  ///< always operation_aborted: the timer only ends by cancel()
};

/// The first bytes of `bytes` that fit in `room`.
inline std::string_view bytes_within(std::string_view bytes, std::uint64_t room) {
  return bytes.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), room)));
}

/// The pieces a download is read in, for the hasher: 64 KiB stay in the worker's L2 cache
/// (256 KiB measured the same, 1 MiB 25% slower on bench/pull).
inline constexpr std::size_t pull_piece_bytes = 64 * 1024;

/// A byte range of a file that a second connection fetches ahead of the file's main stream, into
/// a part file `<partial>.<start>` of its own: the partial file stays a contiguous prefix, which
/// is what huggingface_hub assumes when it resumes a `.incomplete`. The main stream appends a
/// range's bytes (hashing them) when it gets there; a killed run's part files are taken up by
/// the next run.
struct ahead_range {
  std::uint64_t start = 0, end = 0;  ///< [start, end); `end` moves down when the range is split
  std::uint64_t written = 0;         ///< bytes in the part file, from `start`
  std::uint64_t absorbed = 0;        ///< of those, appended to the partial file already
  bool running = false;              ///< a connection is writing it
  bool halted = false;               ///< its download ended early: stop writing
  std::filesystem::path path;
  unique_fd fd;
  std::uint64_t next() const noexcept { return start + written; }
  bool complete() const noexcept { return next() >= end; }
};

/// The name of a part file: `<partial>.<start>`.
inline std::filesystem::path ahead_part_path(const std::filesystem::path& partial, std::uint64_t start) {
  auto p = partial;
  p += "." + std::to_string(start);
  return p;
}

/// One file's download into its partial file, hashed as written (by a background_hasher worker),
/// with the ranges other connections fetch ahead of it.
struct partial_download {
  const pull_target& target;
  std::uint64_t& counted;  ///< the pull's bytes done: grows with `written`, shrinks on a restart
  background_hasher& hashing;
  unique_fd fd;
  hasher digest;
  background_hasher::file sink;
  std::vector<char> piece;  ///< the buffer the fetcher fills next, handed to the hasher whole
  std::uint64_t written = 0;  ///< bytes in the partial file (hashed once drained)
  std::vector<std::shared_ptr<ahead_range>> ahead;  ///< by start; each ends where the next starts
  bool ranges_refused = false;  ///< a server answered a range with something else: no more splits
  bool from_earlier_run = false;  ///< began with bytes a killed or failed run left
  bool main_streaming = false;    ///< the main stream is fetching up to the ceiling (it can be split)
  std::size_t helpers = 0;        ///< connections fetching ranges of it (they reference it)
  std::string url, detail;
  change_signal changed;  ///< wakes the main stream waiting for an ahead range

  partial_download(const pull_target& t, std::uint64_t& counted_bytes, background_hasher& h,
                   const boost::asio::any_io_executor& ex)
      : target(t), counted(counted_bytes), hashing(h), digest(digest_hasher(t)), changed(ex) {}
  partial_download(const partial_download&) = delete;
  partial_download& operator=(const partial_download&) = delete;
  ~partial_download() { hashing.drain(sink); }  // a worker may still hash into `digest`

  /// Where the main stream stops: the first ahead range, or the end of the file.
  std::uint64_t ceiling() const noexcept { return ahead.empty() ? target.size : ahead.front()->start; }

  /// Opens (or creates) the partial file, hashes what an earlier run left in it and takes up the
  /// part files it left (`parts`: their starts).
  result<void> open(std::vector<std::uint64_t> parts) {
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
    counted += written;
    take_up_parts(std::move(parts));
    from_earlier_run = written > 0 || !ahead.empty();
    return {};
  }

  /// The ranges an earlier run fetched ahead: each is kept up to where the next one starts.
  void take_up_parts(std::vector<std::uint64_t> starts) {
    std::sort(starts.begin(), starts.end());
    for (auto start : starts) {
      auto path = ahead_part_path(target.partial_path, start);
      unique_fd part(::open(path.c_str(), O_RDWR | O_CLOEXEC));
      struct stat st;
      if (start >= target.size || !part || ::fstat(part.get(), &st) != 0 ||
          start + static_cast<std::uint64_t>(st.st_size) <= written) {
        ::unlink(path.c_str());  // unusable, or all in the partial file already
        continue;
      }
      auto r = std::make_shared<ahead_range>();
      r->start = start;
      r->written = static_cast<std::uint64_t>(st.st_size);
      r->absorbed = written > start ? written - start : 0;  // the main stream had begun taking it
      r->path = std::move(path);
      r->fd = std::move(part);
      ahead.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < ahead.size(); ++i) {
      auto& r = *ahead[i];
      r.end = i + 1 < ahead.size() ? ahead[i + 1]->start : target.size;
      if (r.written > r.end - r.start) {  // it ran into the next one: the next one has those bytes
        r.written = r.end - r.start;
        if (::ftruncate(r.fd.get(), static_cast<off_t>(r.written)) != 0) r.written = r.absorbed;
      }
      if (::lseek(r.fd.get(), static_cast<off_t>(r.written), SEEK_SET) < 0) r.written = r.absorbed;
      counted += r.written - std::min(r.written, r.absorbed);
    }
  }

  /// Empties the partial file and drops the ranges fetched ahead: the next bytes are the file's first.
  result<void> restart() {
    hashing.drain(sink);
    drop_ahead();
    if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
      detail = "cannot truncate " + target.partial_path.string();
      return errc::storage_io;
    }
    digest = digest_hasher(target);
    counted -= std::min(counted, written);
    written = 0;
    return {};
  }

  void drop_ahead() {
    for (auto& r : ahead) {
      r->halted = true;
      counted -= std::min(counted, r->written - r->absorbed);
      r->fd.reset();
      ::unlink(r->path.c_str());
    }
    ahead.clear();
  }

  /// `ranged`: the request asked for a range (a 200 then means the server would not give one).
  error_code on_head(const http_response& head, bool ranged) {
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
    // 200 to a range: the whole file (a server without ranges, or If-Range said the file changed).
    if (ranged) {
      ranges_refused = true;
      if (auto ok = restart(); !ok) return ok.error();
    }
    return {};
  }

  std::span<char> next_buffer() {
    piece = hashing.acquire(pull_piece_bytes);
    return piece;
  }

  /// Appends bytes of the main stream (the fetcher's buffer, or `piece`, handed on whole).
  error_code on_data(std::string_view bytes) {
    if (written + bytes.size() > target.size) {
      detail = "the server sent more than the " + std::to_string(target.size) + " bytes the catalog lists";
      return errc::bad_response;
    }
    auto ec = bytes.data() == piece.data() ? append(std::move(piece), bytes.size()) : append(bytes);
    if (!ec) counted += bytes.size();
    return ec;
  }

  /// Appends the first `n` bytes of `bytes` to the partial file and hands the buffer to the hasher.
  error_code append(std::vector<char> bytes, std::size_t n) {
    if (auto ec = write_out({bytes.data(), n})) return ec;
    hashing.hash(sink, std::move(bytes), n);
    return {};
  }

  /// Appends `bytes` (a buffer the fetcher keeps) and hands a copy to the hasher.
  error_code append(std::string_view bytes) {
    if (auto ec = write_out(bytes)) return ec;
    hashing.hash(sink, bytes);
    return {};
  }

  error_code write_out(std::string_view bytes) {
    if (!write_all(fd.get(), bytes)) {
      detail = "cannot write " + target.partial_path.string() + ": " + std::strerror(errno);
      return errc::storage_io;
    }
    written += bytes.size();
    return {};
  }

  /// Appends what the first ahead range has that the partial file has not; when that range is
  /// complete it is removed and the main stream goes on after it.
  error_code absorb_front() {
    auto& r = *ahead.front();
    while (r.absorbed < r.written) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(pull_piece_bytes, r.written - r.absorbed));
      auto bytes = hashing.acquire(want);
      auto n = ::pread(r.fd.get(), bytes.data(), want, static_cast<off_t>(r.absorbed));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        detail = "cannot read " + r.path.string() + ": " + (n < 0 ? std::strerror(errno) : "it is shorter than written");
        return errc::storage_io;
      }
      if (auto ec = append(std::move(bytes), static_cast<std::size_t>(n))) return ec;
      r.absorbed += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  /// Removes the first ahead range (absorbed, or left for the main stream to fetch the rest of).
  void pop_front() {
    auto r = ahead.front();
    ahead.erase(ahead.begin());
    counted -= std::min(counted, r->written - r->absorbed);  // not absorbed: fetched again
    r->halted = true;
    r->fd.reset();
    ::unlink(r->path.c_str());
  }

  /// The bytes of [from, to) that a split can hand to another connection: the second half,
  /// starting at a 64 KiB boundary; 0 when less than `min_bytes` would be left on either side.
  static std::uint64_t split_point(std::uint64_t from, std::uint64_t to, std::uint64_t min_bytes) {
    if (min_bytes == 0 || to <= from || to - from < 2 * min_bytes) return 0;
    return (from + (to - from) / 2) & ~std::uint64_t(pull_piece_bytes - 1);
  }

  struct split_plan {
    std::uint64_t at = 0, end = 0;  ///< the range handed out; at == 0: none
    std::size_t insert_at = 0;      ///< its index in `ahead`
  };

  /// The second half of the longest stretch a connection of this download has left.
  split_plan best_split(std::uint64_t min_bytes) const {
    split_plan best;
    if (ranges_refused) return best;
    auto consider = [&](std::uint64_t from, std::uint64_t to, std::size_t insert_at) {
      if (auto at = split_point(from, to, min_bytes); at && to - at > best.end - best.at) best = {at, to, insert_at};
    };
    if (main_streaming) consider(written, ceiling(), 0);
    for (std::size_t i = 0; i < ahead.size(); ++i)
      if (ahead[i]->running) consider(ahead[i]->next(), ahead[i]->end, i + 1);
    return best;
  }

  /// A range nobody fetches (left by a connection that gave up, or by an earlier run).
  std::shared_ptr<ahead_range> idle_range() const {
    if (ranges_refused) return nullptr;
    for (const auto& r : ahead)
      if (!r->running && !r->halted && !r->complete()) return r;
    return nullptr;
  }

  /// Makes the range of `plan`: its part file, and the stretch it came from ends where it starts.
  std::shared_ptr<ahead_range> split(const split_plan& plan) {
    auto r = std::make_shared<ahead_range>();
    r->start = plan.at;
    r->end = plan.end;
    r->path = ahead_part_path(target.partial_path, plan.at);
    r->fd.reset(::open(r->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));  // read back by absorb_front
    if (!r->fd) return nullptr;
    if (plan.insert_at > 0) ahead[plan.insert_at - 1]->end = plan.at;  // at 0 it is the new ceiling
    ahead.insert(ahead.begin() + static_cast<std::ptrdiff_t>(plan.insert_at), r);
    return r;
  }

  /// Renames the partial file into place when its digest is the expected one. It does not
  /// fsync: a blob lost to a crash before write-back is what `hfmm verify` finds.
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
    drop_ahead();
    fd.reset();
    ::unlink(target.partial_path.c_str());
  }
};

/// A broken or stalled transfer, worth continuing from where it got to.
inline bool resumable_failure(const error_code& ec) { return ec == errc::timeout || is_connection_failure(ec); }

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
  std::map<std::filesystem::path, std::vector<std::uint64_t>> leftover_parts;  ///< by partial path
  std::vector<partial_download*> active;  ///< downloads in progress, for idle workers to split
  std::size_t busy = 0;  ///< workers on a file of their own (pull_one)
  /// Wakes idle workers when there may be a range to take (a stream started, a download ended,
  /// a range was given back).
  change_signal changes;

  void wake_idle() { changes.notify(); }

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

/// After a transfer ended with `failure`: waits 100 ms × n and returns true when it is worth
/// continuing from where it got to (a cut or stalled connection, resumes left, not stopped).
template <class Fetcher>
boost::asio::awaitable<bool> should_resume(const pull_options& options, const error_code& failure, int& resumes) {
  if (options.stop.stop_requested() || !resumable_failure(failure) || resumes >= options.max_resumes) co_return false;
  ++resumes;
  co_await pull_sleep<Fetcher>(std::chrono::milliseconds(100) * resumes);
  co_return true;
}

/// Fetches one ahead range into its part file on a connection of its own, resuming a cut
/// connection as the main stream does. When it gives up, the range stays for the main stream.
template <class Fetcher>
boost::asio::awaitable<void> pull_ahead(pull_run<Fetcher>& run, partial_download& part, std::shared_ptr<ahead_range> range) {
  auto& r = *range;
  r.running = true;
  for (int resumes = 0; !r.complete() && !r.halted && !run.options.stop.stop_requested();) {
    download_stream stream;
    stream.from = r.next();
    stream.until = r.end;
    stream.if_range = part.target.etag;
    stream.on_head = [&](const http_response& head) -> error_code {
      auto got = parse_content_range(head.header("Content-Range"));
      if (head.status != 206 || !got || !got->first || *got->first != r.next()) return errc::bad_response;
      return {};
    };
    stream.on_data = [&](std::string_view bytes) -> error_code {
      if (r.halted || run.options.stop.stop_requested()) return boost::asio::error::operation_aborted;
      auto kept = bytes_within(bytes, r.end - r.next());  // the range may have been split since it was asked for
      if (!kept.empty() && !write_all(r.fd.get(), kept)) return errc::storage_io;
      r.written += kept.size();
      run.bytes_done += kept.size();
      run.report.bytes_downloaded += kept.size();
      part.changed.notify();
      run.progress(part.target.path);
      return kept.size() < bytes.size() ? error_code(boost::asio::error::operation_aborted) : error_code{};
    };
    auto answer = co_await run.fetcher.async_download(part.url, stream);
    if (r.complete() || r.halted) break;
    error_code failure = !answer ? answer.error() : classify_response(*answer);
    if (!failure) failure = boost::beast::http::error::partial_message;  // a 2xx that ended early
    if (co_await should_resume<Fetcher>(run.options, failure, resumes)) continue;
    part.ranges_refused = true;  // this server (or this file) will not do it: the main stream takes the range back
    break;
  }
  r.running = false;
  --part.helpers;
  part.changed.notify();
  if (!r.complete()) run.wake_idle();
}

/// Downloads one target into place; false when it failed (recorded in the report).
template <class Fetcher>
boost::asio::awaitable<bool> pull_download(pull_run<Fetcher>& run, const pull_target& t) {
  partial_download part(t, run.bytes_done, run.hashing, co_await boost::asio::this_coro::executor);
  std::vector<std::uint64_t> parts;
  if (auto it = run.leftover_parts.find(t.partial_path); it != run.leftover_parts.end()) parts = std::move(it->second);
  if (auto ok = part.open(std::move(parts)); !ok) {
    run.fail(t, ok.error(), part.detail);
    co_return false;
  }
  if (part.from_earlier_run) ++run.report.resumed;
  part.url = run.url_prefix;
  append_encoded_path(part.url, t.path);
  const auto& url = part.url;

  run.active.push_back(&part);
  // Leaves no ahead connection writing into `part`, and takes it off the list idle connections split.
  auto settle = [&]() -> boost::asio::awaitable<void> {
    for (auto& r : part.ahead) r->halted = true;
    while (part.helpers > 0) co_await part.changed.wait();
    std::erase(run.active, &part);
    run.wake_idle();
  };

  bool retried_from_zero = false;
  error_code failure;
  for (int resumes = 0;;) {
    failure = {};
    // At the start of an ahead range: take its bytes, wait for more, or fetch the rest ourselves.
    if (part.written >= part.ceiling() && !part.ahead.empty()) {  // past the ceiling while absorbing
      if (auto ec = part.absorb_front()) {
        failure = ec;
        break;
      }
      auto& front = *part.ahead.front();
      if (front.absorbed == front.end - front.start || !front.running) {
        part.pop_front();
        continue;
      }
      co_await part.changed.wait();
      if (run.options.stop.stop_requested()) break;
      continue;
    }
    if (part.written < part.ceiling() || t.size == 0) {
      download_stream stream;
      stream.from = part.written;
      if (part.ceiling() < t.size) stream.until = part.ceiling();
      stream.if_range = t.etag;
      stream.on_head = [&](const http_response& head) { return part.on_head(head, stream.from > 0 || stream.until > 0); };
      stream.next_buffer = [&] { return part.next_buffer(); };
      stream.on_data = [&](std::string_view bytes) -> error_code {
        if (run.options.stop.stop_requested()) return boost::asio::error::operation_aborted;
        // Past the ceiling (an idle connection took the rest since this was asked for): stop there.
        // More than the file itself is refused by on_data.
        auto kept = part.ahead.empty() ? bytes : bytes_within(bytes, part.ceiling() - part.written);
        if (auto ec = part.on_data(kept)) return ec;
        run.report.bytes_downloaded += kept.size();
        run.progress(t.path);
        return kept.size() < bytes.size() ? error_code(boost::asio::error::operation_aborted) : error_code{};
      };
      part.main_streaming = true;
      run.wake_idle();
      auto answer = co_await run.fetcher.async_download(url, stream);
      part.main_streaming = false;
      if (part.written >= part.ceiling() && part.ceiling() < t.size && !run.options.stop.stop_requested()) continue;
      if (!answer) failure = answer.error();
      else if (answer->status == 416 && stream.from > 0) {
        // The partial file is longer than what the server has: start again from 0.
        if (auto ok = part.restart(); !ok) failure = ok.error();
        else if (++resumes > run.options.max_resumes) failure = errc::http_status;
        if (!failure) continue;
      } else if (auto ec = classify_response(*answer)) {
        if (ec == errc::file_not_found) run.layout.note_missing(t);
        co_await settle();
        part.discard();
        std::string why = "HTTP " + std::to_string(answer->status);
        if (auto code = answer->header("X-Error-Code"); !code.empty()) why += " " + std::string(code);
        run.fail(t, ec, why + " for " + url);
        co_return false;
      } else if (part.written < part.ceiling()) {
        failure = boost::beast::http::error::partial_message;  // the answer ended early
      }
    }
    if (failure) {
      if (co_await should_resume<Fetcher>(run.options, failure, resumes)) continue;
      break;
    }
    if (part.written < t.size) continue;  // the ahead ranges are next
    co_await settle();
    auto finished = part.finish();
    if (finished) co_return true;
    if (finished.error() == errc::hash_mismatch && part.from_earlier_run && !retried_from_zero) {
      // The earlier run's bytes may be the wrong ones: once more from byte 0.
      retried_from_zero = true;
      if (auto ok = part.restart(); !ok) {
        failure = ok.error();
        break;
      }
      run.active.push_back(&part);
      continue;
    }
    if (finished.error() == errc::hash_mismatch) part.discard();
    run.fail(t, finished.error(), part.detail);
    co_return false;
  }
  // Stopped, or failed: the partial file and the ranges fetched ahead stay for the next pull.
  co_await settle();
  if (run.options.stop.stop_requested()) {
    run.report.stopped = true;
    co_return false;
  }
  run.fail(t, failure, part.detail.empty() ? failure.message() + " after " + std::to_string(part.written) + " of " +
                                                 std::to_string(t.size) + " bytes of " + url
                                           : part.detail);
  co_return false;
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

/// A range of a download in progress for a connection with no file left to start: one nobody
/// fetches, else the second half of the longest stretch one connection has left.
template <class Fetcher>
std::pair<partial_download*, std::shared_ptr<ahead_range>> next_ahead(pull_run<Fetcher>& run) {
  partial_download* best = nullptr;
  partial_download::split_plan plan;
  for (auto* part : run.active) {
    if (auto idle = part->idle_range()) return {part, std::move(idle)};
    auto p = part->best_split(run.options.min_range_bytes);
    if (p.at && p.end - p.at > plan.end - plan.at) best = part, plan = p;
  }
  if (!best) return {};
  return {best, best->split(plan)};
}

template <class Fetcher>
boost::asio::awaitable<void> pull_worker(pull_run<Fetcher>& run) {
  while (!run.options.stop.stop_requested()) {
    if (run.next < run.targets.size()) {
      const auto& t = run.targets[run.next++];
      ++run.busy;
      co_await pull_one(run, t);
      --run.busy;
      ++run.done;
      run.progress(t.path);
      if (run.busy == 0) run.wake_idle();  // the idle ones may be done too
      continue;
    }
    // No file left to start: help a large download along with a range of it.
    if (auto [part, range] = next_ahead(run); range) {
      ++part->helpers;
      co_await pull_ahead(run, *part, std::move(range));
      continue;
    }
    if (run.busy == 0) break;  // no download left that could be split
    co_await run.changes.wait();
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
  auto ex = co_await asio::this_coro::executor;
  detail::pull_run<Fetcher> run{fetcher, options, *layout, hashing,
                                standard_url_prefix(fetcher.endpoint(), s.repo_type, s.model_id, s.commit_sha),
                                {}, 0, 0, 0, report, layout->leftover_parts(), {}, 0, detail::change_signal(ex)};
  for (auto f : s.files) {
    if (!pull_selects(f.path(), options)) continue;
    run.targets.push_back(layout->target(f));
    report.bytes_total += f.size();
  }
  report.files = run.targets.size();
  // Largest first: a large file started last runs alone on one connection at the end (a pull of
  // 200 small files and one of 1 GB spent its last second that way).
  std::stable_sort(run.targets.begin(), run.targets.end(), [](const auto& a, const auto& b) { return a.size > b.size; });

  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  // With ranges, connections beyond the number of files fetch ranges of the large ones.
  std::size_t running = std::clamp<std::size_t>(
      options.concurrency, 1, options.min_range_bytes > 0 ? options.concurrency : std::max<std::size_t>(1, run.targets.size()));
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
