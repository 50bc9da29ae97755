#pragma once
// Bodies of <hfmm/structure.hpp>.

#include <hfmm/detail/digest.hpp>

#include <algorithm>
#include <numeric>

namespace hfmm {

// The accessors every scan calls stay inline in both compilation modes (detail/config.hpp).
inline std::string_view file_table::path_of(const record& r) noexcept { return detail::path_pool::instance()[r.path]; }
inline std::string_view file_ref::path() const noexcept { return file_table::path_of(table_->records_[index_]); }
inline std::uint64_t file_ref::size() const noexcept { return table_->size_of(table_->records_[index_]); }
inline bool file_ref::is_lfs() const noexcept { return table_->records_[index_].lfs != file_table::none; }

#if HFMM_DEFINE_BODIES
HFMM_DECL std::string_view to_string(repo_type t) {
  switch (t) {
    case repo_type::dataset: return "dataset";
    case repo_type::space: return "space";
    default: return "model";
  }
}

HFMM_DECL std::optional<repo_type> parse_repo_type(std::string_view s) {
  if (s == "model") return repo_type::model;
  if (s == "dataset") return repo_type::dataset;
  if (s == "space") return repo_type::space;
  return std::nullopt;
}

// ---- file_ref
HFMM_DECL std::string file_ref::oid() const {
  const auto& r = table_->records_[index_];
  if (r.has(file_table::oid_binary)) return detail::to_hex(r.oid);
  return table_->text_of(r).oid;
}

HFMM_DECL std::optional<lfs_info> file_ref::lfs() const {
  const auto& r = table_->records_[index_];
  if (r.lfs == file_table::none) return std::nullopt;
  const auto& l = table_->lfs_[r.lfs];
  auto size = table_->size_of(r);
  lfs_info info{r.has(file_table::sha_binary) ? detail::to_hex(l.sha256) : table_->text_of(r).sha256, size,
                lfs_pointer_size(size)};
  if (r.has(file_table::lfs_sizes_odd)) {
    const auto& t = table_->text_of(r);
    info.size = t.lfs_size;
    info.pointer_size = t.pointer_size;
  }
  return info;
}

HFMM_DECL std::optional<std::string> file_ref::xet_hash() const {
  const auto& r = table_->records_[index_];
  if (!r.has(file_table::xet_present)) return std::nullopt;
  if (r.has(file_table::xet_binary)) return detail::to_hex(table_->lfs_[r.lfs].xet);
  return table_->text_of(r).xet;
}

HFMM_DECL std::string file_ref::download_url() const {
  const auto& r = table_->records_[index_];
  if (r.has(file_table::url_derived)) return table_->standard_url(path());
  if (r.has(file_table::url_stored)) return table_->text_of(r).url;
  return {};
}

HFMM_DECL file_entry file_ref::to_entry() const { return {size(), oid(), lfs(), xet_hash(), download_url()}; }

// ---- file_table


HFMM_DECL std::size_t file_table::lower_bound(std::string_view path) const noexcept {
  auto it = std::lower_bound(records_.begin(), records_.end(), path,
                             [](const record& r, std::string_view p) { return path_of(r) < p; });
  return static_cast<std::size_t>(it - records_.begin());
}

HFMM_DECL std::size_t file_table::index_of(std::string_view path) const noexcept {
  auto i = lower_bound(path);
  return i < records_.size() && path_of(records_[i]) == path ? i : npos;
}

HFMM_DECL std::optional<file_entry> file_table::find(std::string_view path) const {
  auto i = index_of(path);
  if (i == npos) return std::nullopt;
  return file_ref(this, i).to_entry();
}

HFMM_DECL std::optional<file_ref> file_table::find_ref(std::string_view path) const noexcept {
  auto i = index_of(path);
  if (i == npos) return std::nullopt;
  return file_ref(this, i);
}

HFMM_DECL std::string file_table::standard_url(std::string_view path) const {
  std::string url = url_prefix_;
  detail::append_encoded_path(url, path);
  return url;
}

HFMM_DECL std::size_t file_table::text_index(std::uint32_t path) const noexcept {
  auto it = std::lower_bound(texts_.begin(), texts_.end(), path,
                             [](const text_record& t, std::uint32_t p) { return t.path < p; });
  return static_cast<std::size_t>(it - texts_.begin());
}

HFMM_DECL file_table::text_record& file_table::text_of(const record& r) {
  auto i = text_index(r.path);
  if (i == texts_.size() || texts_[i].path != r.path) {
    text_record fresh;
    fresh.path = r.path;
    texts_.insert(texts_.begin() + static_cast<std::ptrdiff_t>(i), std::move(fresh));
  }
  return texts_[i];
}

// Only called for a record whose flags say its text record exists.
HFMM_DECL const file_table::text_record& file_table::text_of(const record& r) const noexcept {
  return texts_[text_index(r.path)];
}

HFMM_DECL void file_table::erase_text(std::uint32_t path) {
  auto i = text_index(path);
  if (i < texts_.size() && texts_[i].path == path) texts_.erase(texts_.begin() + static_cast<std::ptrdiff_t>(i));
}

HFMM_DECL bool file_table::is_standard_url(std::string_view url, std::string_view path) const noexcept {
  if (url_prefix_.empty() || !url.starts_with(url_prefix_)) return false;
  url.remove_prefix(url_prefix_.size());
  // Compare with the percent-encoded path without building it.
  static constexpr char upper_hex[] = "0123456789ABCDEF";
  std::size_t i = 0;
  for (unsigned char c : path) {
    if (c == '/' || detail::is_unreserved(c)) {
      if (i >= url.size() || url[i] != static_cast<char>(c)) return false;
      ++i;
    } else {
      if (i + 3 > url.size() || url[i] != '%' || url[i + 1] != upper_hex[c >> 4] || url[i + 2] != upper_hex[c & 0xF])
        return false;
      i += 3;
    }
  }
  return i == url.size();
}

HFMM_DECL file_table::record file_table::make_record(std::string_view path, const file_entry_view& e) {
  record r;
  r.path = detail::path_pool::instance().intern(path);
  if (e.size >> 56) {
    r.set(size_stored);
    text_of(r).size = e.size;
  } else {
    r.size_low = static_cast<std::uint32_t>(e.size);
    r.high = static_cast<std::uint32_t>(e.size >> 32);
  }
  if (auto oid = detail::parse_lower_hex<20>(e.oid)) {
    r.oid = *oid;
    r.set(oid_binary);
  } else {
    text_of(r).oid = e.oid;
  }
  std::optional<std::array<std::uint8_t, 32>> xet;
  if (e.has_xet) {
    r.set(xet_present);
    xet = detail::parse_lower_hex<32>(e.xet_hash);
  }
  if (e.has_lfs) {
    lfs_record l;
    if (auto sha = detail::parse_lower_hex<32>(e.lfs_sha256)) {
      l.sha256 = *sha;
      r.set(sha_binary);
    } else {
      text_of(r).sha256 = e.lfs_sha256;
    }
    if (e.lfs_size != e.size || e.pointer_size != lfs_pointer_size(e.lfs_size)) {
      r.set(lfs_sizes_odd);
      auto& t = text_of(r);
      t.lfs_size = e.lfs_size;
      t.pointer_size = e.pointer_size;
    }
    if (xet) {
      l.xet = *xet;
      r.set(xet_binary);
    }
    r.lfs = static_cast<std::uint32_t>(lfs_.size());
    lfs_.push_back(l);
  }
  if (e.has_xet && !r.has(xet_binary)) text_of(r).xet = e.xet_hash;
  if (!e.download_url.empty()) {
    if (is_standard_url(e.download_url, path)) {
      r.set(url_derived);
    } else {
      r.set(url_stored);
      text_of(r).url = e.download_url;
    }
  }
  return r;
}

HFMM_DECL void file_table::insert(std::string_view path, const file_entry& entry) {
  auto pos = lower_bound(path);
  bool replace = pos < records_.size() && path_of(records_[pos]) == path;
  // A replaced record's LFS record becomes garbage until the next rebuild; its text goes now.
  if (replace) erase_text(records_[pos].path);
  auto r = make_record(path, file_entry_view::of(entry));
  if (replace)
    records_[pos] = r;
  else
    records_.insert(records_.begin() + static_cast<std::ptrdiff_t>(pos), r);
}

HFMM_DECL bool file_table::erase(std::string_view path) {
  auto i = index_of(path);
  if (i == npos) return false;
  erase_text(records_[i].path);
  records_.erase(records_.begin() + static_cast<std::ptrdiff_t>(i));
  if (records_.empty()) clear();
  return true;
}

HFMM_DECL void file_table::clear() noexcept {
  records_.clear();
  lfs_.clear();
  texts_.clear();
}

HFMM_DECL void file_table::reserve(std::size_t files) { records_.reserve(files); }

HFMM_DECL std::uint64_t file_table::total_size() const noexcept {
  std::uint64_t total = 0;
  for (const auto& r : records_) total += size_of(r);
  return total;
}

HFMM_DECL void file_table::set_url_prefix(std::string prefix) {
  if (prefix == url_prefix_) return;
  if (records_.empty()) {
    url_prefix_ = std::move(prefix);
    return;
  }
  file_table rebuilt;
  rebuilt.url_prefix_ = std::move(prefix);
  rebuilt.reserve(records_.size());
  for (auto ref : *this) {
    auto entry = ref.to_entry();
    rebuilt.records_.push_back(rebuilt.make_record(ref.path(), file_entry_view::of(entry)));
  }
  *this = std::move(rebuilt);
}

HFMM_DECL void file_table::finish_unsorted() {
  // Equal ids are equal paths: the string comparison is needed only between different paths.
  auto before = [](const record& a, const record& b) { return a.path != b.path && path_of(a) < path_of(b); };
  if (!std::is_sorted(records_.begin(), records_.end(), before))  // Hub listings and our stores are
    std::stable_sort(records_.begin(), records_.end(), before);   // in order already
  // Keep the last of equal paths (stable sort preserves arrival order).
  std::size_t out = 0;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (i + 1 < records_.size() && records_[i].path == records_[i + 1].path) continue;
    records_[out++] = records_[i];
  }
  records_.resize(out);
}

HFMM_DECL std::size_t file_table::memory_bytes() const noexcept {
  std::size_t bytes = records_.capacity() * sizeof(record) + lfs_.capacity() * sizeof(lfs_record) +
                      texts_.capacity() * sizeof(text_record) + url_prefix_.capacity();
  for (const auto& t : texts_) bytes += t.oid.capacity() + t.sha256.capacity() + t.xet.capacity() + t.url.capacity();
  return bytes;
}

HFMM_DECL bool operator==(const file_table& a, const file_table& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].path() != b[i].path() || a[i].to_entry() != b[i].to_entry()) return false;
  }
  return true;
}

HFMM_DECL bool operator==(const repo_structure& a, const repo_structure& b) {
  if (a.model_id != b.model_id || a.repo_type != b.repo_type || a.branch != b.branch ||
      a.commit_sha != b.commit_sha || a.fetched_at != b.fetched_at || a.model_info != b.model_info ||
      !(a.files == b.files))
    return false;
  if (!a.previous || !b.previous) return !a.previous && !b.previous;
  return *a.previous == *b.previous;
}

HFMM_DECL std::string standard_url_prefix(std::string_view endpoint, repo_type type, std::string_view repo_id,
                                       std::string_view revision) {
  std::string url(endpoint);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += '/';
  url.append(detail::repo_url_prefix(type)).append(repo_id);
  url += "/resolve/";
  detail::append_encoded_segment(url, revision);
  url += '/';
  return url;
}

HFMM_DECL std::uint32_t lfs_pointer_size(std::uint64_t size) noexcept {
  std::uint32_t digits = 1;
  for (; size >= 10; size /= 10) ++digits;
  return 125 + digits;  // "version https://git-lfs.github.com/spec/v1\noid sha256:<64 hex>\nsize <n>\n"
}

HFMM_DECL std::string lfs_pointer_text(std::string_view sha256_hex, std::uint64_t size) {
  std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:";
  pointer.append(sha256_hex);
  pointer += "\nsize " + std::to_string(size) + "\n";
  return pointer;
}

HFMM_DECL std::string lfs_pointer_oid(std::string_view sha256_hex, std::uint64_t size) {
  return detail::git_blob_oid(lfs_pointer_text(sha256_hex, size));
}

// ---- free look-ups

HFMM_DECL std::optional<std::string> get_file_hash_from_structure(const repo_structure& s, std::string_view path) {
  if (auto ref = s.files.find_ref(path)) return ref->oid();
  return std::nullopt;
}
HFMM_DECL std::optional<std::string> get_file_hash_from_structure(const std::optional<repo_structure>& s,
                                                               std::string_view path) {
  return s ? get_file_hash_from_structure(*s, path) : std::nullopt;
}
HFMM_DECL std::optional<std::string> get_file_hash_from_structure(const repo_structure* s, std::string_view path) {
  return s ? get_file_hash_from_structure(*s, path) : std::nullopt;
}

HFMM_DECL std::vector<std::string> list_files_by_extension(const repo_structure& s, std::string_view ext) {
  std::vector<std::string> out;
  for (auto f : s.files)
    if (f.path().ends_with(ext)) out.emplace_back(f.path());
  return out;  // the table is path-sorted already
}
HFMM_DECL std::vector<std::string> list_files_by_extension(const std::optional<repo_structure>& s, std::string_view ext) {
  return s ? list_files_by_extension(*s, ext) : std::vector<std::string>{};
}
HFMM_DECL std::vector<std::string> list_files_by_extension(const repo_structure* s, std::string_view ext) {
  return s ? list_files_by_extension(*s, ext) : std::vector<std::string>{};
}

HFMM_DECL std::optional<std::string> get_file_sha256_from_structure(const repo_structure& s, std::string_view path) {
  if (auto ref = s.files.find_ref(path))
    if (auto lfs = ref->lfs()) return std::move(lfs->sha256);
  return std::nullopt;
}
HFMM_DECL std::optional<std::string> get_file_sha256_from_structure(const std::optional<repo_structure>& s,
                                                                 std::string_view path) {
  return s ? get_file_sha256_from_structure(*s, path) : std::nullopt;
}
HFMM_DECL std::optional<std::string> get_file_sha256_from_structure(const repo_structure* s, std::string_view path) {
  return s ? get_file_sha256_from_structure(*s, path) : std::nullopt;
}

#endif  // HFMM_DEFINE_BODIES

namespace detail {
/// Parsers build tables in bulk: append in any order, then finish once.
struct file_table_access {
  static void append(file_table& t, std::string_view path, const file_entry& e) {
    t.append_unsorted(path, file_entry_view::of(e));
  }
  static void append(file_table& t, std::string_view path, const file_entry_view& e) { t.append_unsorted(path, e); }
  /// Sorts; returns how many duplicate paths were dropped (the last one wins).
  static std::size_t finish(file_table& t) {
    auto before = t.size();
    t.finish_unsorted();
    // A loaded table is read far more than it grows: give back the doubling slack.
    t.records_.shrink_to_fit();
    t.lfs_.shrink_to_fit();
    return before - t.size();
  }
  static void set_prefix_empty_table(file_table& t, std::string_view prefix) { t.url_prefix_.assign(prefix); }
  /// The process-wide path id (detail/path_pool.hpp) of entry `i`: equal ids, equal paths.
  static std::uint32_t path_id(const file_table& t, std::size_t i) noexcept { return t.records_[i].path; }
  /// The first 32 bits of entry `i`'s git oid, and of its LFS SHA-256 when it has one
  /// (detail::hex_prefix32 of their text), read without making the hex strings.
  static std::optional<std::uint32_t> oid_prefix32(const file_table& t, std::size_t i) noexcept {
    const auto& r = t.records_[i];
    return r.has(file_table::oid_binary) ? bytes_prefix32(r.oid.data()) : hex_prefix32(t.text_of(r).oid);
  }
  static std::optional<std::uint32_t> sha256_prefix32(const file_table& t, std::size_t i) noexcept {
    const auto& r = t.records_[i];
    if (r.lfs == file_table::none) return std::nullopt;
    return r.has(file_table::sha_binary) ? bytes_prefix32(t.lfs_[r.lfs].sha256.data()) : hex_prefix32(t.text_of(r).sha256);
  }
  /// Empties a table used for building, keeping its capacity.
  static void reset(file_table& t) {
    t.clear();
    t.url_prefix_.clear();
  }
  /// finish(), into a copy with no spare capacity; `building` is reset for the next table. A
  /// loader that builds every table in one buffer allocates each table's memory once.
  static file_table finish_exact(file_table& building) {
    building.finish_unsorted();
    file_table out;
    out.records_.assign(building.records_.begin(), building.records_.end());
    out.lfs_.assign(building.lfs_.begin(), building.lfs_.end());
    out.texts_ = building.texts_;
    out.url_prefix_ = building.url_prefix_;
    reset(building);
    return out;
  }
};
}  // namespace detail

}  // namespace hfmm
