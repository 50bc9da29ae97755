#pragma once
// POSIX file helpers for the stores: whole-file reads, durable appends, atomic replacement
// (temp file in the same directory, fsync, rename, fsync of the directory) and flock-based
// writer locks (flock conflicts between two opens in one process too).

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hfmm::detail {

class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

/// What tells one version of a file from another without reading it.
struct file_stamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool exists = false;
  std::uint64_t inode = 0;
  bool operator==(const file_stamp&) const = default;
};

file_stamp stamp_of(const std::filesystem::path& p);
file_stamp stamp_of(const struct stat& st) noexcept;

bool write_all(int fd, std::string_view data);

/// Reads a whole file. A missing file gives file_not_found; other failures storage_io.
result<std::string> read_whole_file(const std::filesystem::path& p);

/// Opens a file for reading; `missing` tells ENOENT from other failures.
inline unique_fd open_for_reading(const std::filesystem::path& p, bool& missing) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  missing = !fd && errno == ENOENT;
  return fd;
}

/// The size of the pieces files are read in: what a load holds of the file at any time.
inline constexpr std::size_t read_chunk_bytes = 1u << 20;
/// Smaller pieces where a piece's offset locates a record (a query reads it back from there).
inline constexpr std::size_t locating_chunk_bytes = 64u << 10;

/// Calls on_chunk(std::string_view) with the rest of the file in pieces of at most
/// `piece_bytes`, until the end or on_chunk's failure. Errors: storage_io, on_chunk's.
template <class OnChunk>
result<void> for_each_chunk(int fd, OnChunk on_chunk, std::size_t piece_bytes = read_chunk_bytes) {
  std::unique_ptr<char[]> buffer(new char[piece_bytes]);
  for (;;) {
    auto n = ::read(fd, buffer.get(), piece_bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errc::storage_io;
    }
    if (n == 0) return {};
    if (auto ok = on_chunk(std::string_view(buffer.get(), static_cast<std::size_t>(n))); !ok) return ok;
  }
}

/// Calls on_line(offset, line) for each line of the file that a '\n' ends (the line without
/// it), reading in chunks; a line longer than a chunk is gathered whole. Returns the offset
/// after the last complete line: what follows is a torn tail. Errors: storage_io, on_line's.
template <class OnLine>
result<std::uint64_t> for_each_line(int fd, OnLine on_line) {
  std::string partial;  // the start of a line that continues in the next chunk
  std::uint64_t offset = 0;  // where `partial` (or the next line) starts
  auto ok = for_each_chunk(fd, [&](std::string_view chunk) -> result<void> {
    while (!chunk.empty()) {
      auto end = chunk.find('\n');
      if (end == std::string_view::npos) {
        partial.append(chunk);
        return {};
      }
      std::string_view line = chunk.substr(0, end);
      if (!partial.empty()) line = partial.append(line);
      if (auto done = on_line(offset, line); !done) return done;
      offset += line.size() + 1;
      partial.clear();
      chunk.remove_prefix(end + 1);
    }
    return {};
  });
  if (!ok) return ok.error();
  return offset;
}

result<void> fsync_directory(const std::filesystem::path& file);

/// Replaces `target` with `data` atomically: readers see the old or the new file, never a mix,
/// and a crash leaves one of the two. On failure (a full disk) the target is untouched.
result<void> atomic_replace(const std::filesystem::path& target, std::string_view data);

/// atomic_replace for content written in pieces (a file larger than memory): the pieces go to
/// "<target>.tmp" and commit() moves it into place. Destroyed uncommitted — a failure midway —
/// it removes the temp file and the target is untouched.
class atomic_file_writer {
public:
  static result<atomic_file_writer> create(const std::filesystem::path& target);
  atomic_file_writer(atomic_file_writer&& o) noexcept
      : target_(std::move(o.target_)), tmp_(std::move(o.tmp_)), fd_(std::move(o.fd_)), written_(o.written_),
        committed_(std::exchange(o.committed_, true)) {}
  atomic_file_writer& operator=(atomic_file_writer&&) = delete;
  ~atomic_file_writer();
  /// False once a write has failed (the disk full): commit() then fails too.
  bool write(std::string_view data);
  result<void> commit();

private:
  atomic_file_writer(std::filesystem::path target, std::filesystem::path tmp, unique_fd fd)
      : target_(std::move(target)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::filesystem::path target_, tmp_;
  unique_fd fd_;
  bool written_ = true, committed_ = false;
};

/// An exclusive, non-blocking writer lock on `<store>.lock`; released on destruction.
result<unique_fd> lock_exclusive(const std::filesystem::path& lock_path);

/// The writer lock of a single-writer store file: flock on "<path>.lock"; `detail` says why not.
result<unique_fd> lock_store(const std::filesystem::path& store, std::string& detail);

/// CRC-32 (IEEE) for journal records.
std::uint32_t crc32(std::string_view data) noexcept;

}  // namespace hfmm::detail

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/posix_file.ipp>
#endif
