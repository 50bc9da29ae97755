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

file_stamp stamp_of(const std::filesystem::path& p);

bool write_all(int fd, std::string_view data);

/// Reads a whole file. A missing file gives file_not_found; other failures storage_io.
result<std::string> read_whole_file(const std::filesystem::path& p);

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

result<void> fsync_directory(const std::filesystem::path& file);

/// Replaces `target` with `data` atomically: readers see the old or the new file, never a mix,
/// and a crash leaves one of the two. On failure (a full disk) the target is untouched.
result<void> atomic_replace(const std::filesystem::path& target, std::string_view data);

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
