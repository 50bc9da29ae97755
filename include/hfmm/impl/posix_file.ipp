#pragma once
// Bodies of <hfmm/detail/posix_file.hpp>.

namespace hfmm::detail {

HFMM_DECL file_stamp stamp_of(const struct stat& st) noexcept {
  return {static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, true,
          static_cast<std::uint64_t>(st.st_ino)};
}

HFMM_DECL file_stamp stamp_of(const std::filesystem::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return {};
  return stamp_of(st);
}

HFMM_DECL bool write_all(int fd, std::string_view data) {
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

HFMM_DECL result<std::string> read_whole_file(const std::filesystem::path& p) {
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

HFMM_DECL result<void> fsync_directory(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  if (dir.empty()) dir = ".";
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return errc::storage_io;
  return {};
}

HFMM_DECL result<void> atomic_replace(const std::filesystem::path& target, std::string_view data) {
  auto out = atomic_file_writer::create(target);
  if (!out) return out.error();
  out->write(data);
  return out->commit();
}

HFMM_DECL result<atomic_file_writer> atomic_file_writer::create(const std::filesystem::path& target) {
  auto tmp = target;
  tmp += ".tmp";
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errc::storage_io;
  return atomic_file_writer(target, std::move(tmp), std::move(fd));
}

HFMM_DECL atomic_file_writer::~atomic_file_writer() {
  if (committed_) return;
  fd_.reset();
  ::unlink(tmp_.c_str());
}

HFMM_DECL bool atomic_file_writer::write(std::string_view data) {
  written_ = written_ && fd_ && write_all(fd_.get(), data);
  return written_;
}

HFMM_DECL result<void> atomic_file_writer::commit() {
  if (!written_ || !fd_ || ::fsync(fd_.get()) != 0) return errc::storage_io;
  fd_.reset();
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) return errc::storage_io;
  committed_ = true;
  return fsync_directory(target_);
}

HFMM_DECL result<unique_fd> lock_exclusive(const std::filesystem::path& lock_path) {
  unique_fd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return errc::storage_io;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? errc::storage_locked : errc::storage_io;
  }
  return fd;
}

HFMM_DECL result<unique_fd> lock_store(const std::filesystem::path& store, std::string& detail) {
  auto lock_path = std::filesystem::path(store) += ".lock";
  auto lock = lock_exclusive(lock_path);
  if (!lock)
    detail = lock.error() == errc::storage_locked
                 ? store.string() + " is open in another writer"
                 : "cannot create " + lock_path.string() + " — does the directory exist and is it writable?";
  return lock;
}

HFMM_DECL std::uint32_t crc32(std::string_view data) noexcept {
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
