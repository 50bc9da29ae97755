#pragma once
// POSIX file helpers for the stores: whole-file reads, durable appends, atomic replacement
// (temp file in the same directory, fsync, rename, fsync of the directory) and flock-based
// writer locks (flock conflicts between two opens in one process too).

#include <hfmm/error.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <filesystem>
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

struct file_stamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool exists = false;
  bool operator==(const file_stamp&) const = default;
};

inline file_stamp stamp_of(const std::filesystem::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, true};
}

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Reads a whole file. A missing file gives file_not_found; other failures storage_io.
inline result<std::string> read_whole_file(const std::filesystem::path& p) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? errc::file_not_found : errc::storage_io;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errc::storage_io;
  std::string data;
  data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == data.size()) data.resize(data.size() + 65536);  // the file grew, or size was 0
    auto n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errc::storage_io;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  return data;
}

/// A whole file mapped read-only: no copy and no zero-filled buffer (on these VMs the
/// page faults of an 85 MB read() cost more than parsing it).
class mapped_file {
public:
  mapped_file() = default;
  mapped_file(mapped_file&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~mapped_file() { unmap(); }

  /// Errors: file_not_found, storage_io.
  static result<mapped_file> open(const std::filesystem::path& p) {
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return errno == ENOENT ? errc::file_not_found : errc::storage_io;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errc::storage_io;
    mapped_file m;
    m.size_ = static_cast<std::size_t>(st.st_size);
    if (m.size_ == 0) return m;
    void* addr = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (addr == MAP_FAILED) return errc::storage_io;
    ::madvise(addr, m.size_, MADV_SEQUENTIAL);
    m.data_ = static_cast<const char*>(addr);
    return m;
  }
  std::string_view view() const noexcept { return {data_, size_}; }

private:
  void unmap() noexcept {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    data_ = nullptr;
  }
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

inline result<void> fsync_directory(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  if (dir.empty()) dir = ".";
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return errc::storage_io;
  return {};
}

/// Replaces `target` with `data` atomically: readers see the old or the new file, never a mix,
/// and a crash leaves one of the two. On failure (a full disk) the target is untouched.
inline result<void> atomic_replace(const std::filesystem::path& target, std::string_view data) {
  auto tmp = target;
  tmp += ".tmp";
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errc::storage_io;
  if (!write_all(fd.get(), data) || ::fsync(fd.get()) != 0) {
    fd.reset();
    ::unlink(tmp.c_str());
    return errc::storage_io;
  }
  fd.reset();
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return errc::storage_io;
  }
  return fsync_directory(target);
}

/// An exclusive, non-blocking writer lock on `<store>.lock`; released on destruction.
inline result<unique_fd> lock_exclusive(const std::filesystem::path& lock_path) {
  unique_fd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return errc::storage_io;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? errc::storage_locked : errc::storage_io;
  }
  return fd;
}

/// The writer lock of a single-writer store file: flock on "<path>.lock"; `detail` says why not.
inline result<unique_fd> lock_store(const std::filesystem::path& store, std::string& detail) {
  auto lock_path = std::filesystem::path(store) += ".lock";
  auto lock = lock_exclusive(lock_path);
  if (!lock)
    detail = lock.error() == errc::storage_locked
                 ? store.string() + " is open in another writer"
                 : "cannot create " + lock_path.string() + " — does the directory exist and is it writable?";
  return lock;
}

/// CRC-32 (IEEE) for journal records.
inline std::uint32_t crc32(std::string_view data) noexcept {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace hfmm::detail
