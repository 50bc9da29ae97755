#pragma once
// file_entry, file_table, repo_structure and the free look-ups on them.
//
// A repo_structure is the file list of one Hub repository pinned to a commit. Its files live
// in a file_table: path-sorted records with binary digests, one arena for all paths, and no
// stored download URL when it follows the standard "<prefix><encoded path>" pattern.
// Values are regular: copyable, comparable; concurrent const access is safe.

#include <hfmm/detail/config.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/path_pool.hpp>
#include <hfmm/detail/time.hpp>

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfmm {

enum class repo_type { model, dataset, space };  // JSON "model" | "dataset" | "space"
std::string_view to_string(repo_type);
std::optional<repo_type> parse_repo_type(std::string_view);

namespace detail {
/// The Hub's public endpoint, when neither the caller nor HF_ENDPOINT names another.
inline constexpr std::string_view default_endpoint = "https://huggingface.co";
/// How the Hub's URLs name a repo type: the collection of its API paths and cache folders...
constexpr std::string_view repo_collection(repo_type t) noexcept {
  return t == repo_type::dataset ? "datasets" : t == repo_type::space ? "spaces" : "models";
}
/// ... and the prefix of its web and download URLs and of the ids users type ("datasets/org/name").
constexpr std::string_view repo_url_prefix(repo_type t) noexcept {
  return t == repo_type::dataset ? "datasets/" : t == repo_type::space ? "spaces/" : "";
}
}  // namespace detail

/// Git LFS data of a file: SHA-256 of the content, its size and the pointer file's length.
struct lfs_info {
  std::string sha256;
  std::uint64_t size = 0;
  std::uint32_t pointer_size = 0;
  bool operator==(const lfs_info&) const = default;
};

/// One file of a repository. `oid` is the git blob id (of the LFS pointer for LFS files).
struct file_entry {
  std::uint64_t size = 0;
  std::string oid;
  std::optional<lfs_info> lfs;
  std::optional<std::string> xet_hash;
  std::string download_url;
  bool operator==(const file_entry&) const = default;
};

class file_table;

/// A file_entry whose strings are borrowed: what parsers hand to a file_table without copying.
struct file_entry_view {
  std::uint64_t size = 0;
  std::string_view oid;
  bool has_lfs = false;
  std::string_view lfs_sha256;
  std::uint64_t lfs_size = 0;
  std::uint32_t pointer_size = 0;
  bool has_xet = false;
  std::string_view xet_hash;
  std::string_view download_url;

  static file_entry_view of(const file_entry& e) noexcept {
    file_entry_view v;
    v.size = e.size, v.oid = e.oid;
    if (e.lfs) v.has_lfs = true, v.lfs_sha256 = e.lfs->sha256, v.lfs_size = e.lfs->size, v.pointer_size = e.lfs->pointer_size;
    if (e.xet_hash) v.has_xet = true, v.xet_hash = *e.xet_hash;
    v.download_url = e.download_url;
    return v;
  }
};

/// A light view of one file of a file_table; hex strings are made on demand.
/// Valid until the table is modified.
class file_ref {
public:
  std::string_view path() const noexcept;
  std::uint64_t size() const noexcept;
  std::string oid() const;
  std::optional<lfs_info> lfs() const;
  std::optional<std::string> xet_hash() const;
  std::string download_url() const;
  file_entry to_entry() const;
  bool is_lfs() const noexcept;

private:
  friend class file_table;
  file_ref(const file_table* table, std::size_t index) noexcept : table_(table), index_(index) {}
  const file_table* table_;
  std::size_t index_;
};

namespace detail { struct file_table_access; }

/// Path-sorted, compact set of files. Paths compare as byte strings (case-sensitive) and are
/// interned process-wide (detail/path_pool.hpp): a record is 36 bytes with binary digests.
class file_table {
public:
  class const_iterator {
  public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = file_ref;
    using difference_type = std::ptrdiff_t;
    using reference = file_ref;
    using pointer = void;
    const_iterator() = default;
    file_ref operator*() const noexcept { return file_ref(table_, index_); }
    struct arrow_proxy {
      file_ref ref;
      const file_ref* operator->() const noexcept { return &ref; }
    };
    arrow_proxy operator->() const noexcept { return {**this}; }
    file_ref operator[](difference_type n) const noexcept { return file_ref(table_, index_ + n); }
    const_iterator& operator++() noexcept { ++index_; return *this; }
    const_iterator operator++(int) noexcept { auto c = *this; ++index_; return c; }
    const_iterator& operator--() noexcept { --index_; return *this; }
    const_iterator operator--(int) noexcept { auto c = *this; --index_; return c; }
    const_iterator& operator+=(difference_type n) noexcept { index_ += n; return *this; }
    const_iterator& operator-=(difference_type n) noexcept { index_ -= n; return *this; }
    friend const_iterator operator+(const_iterator it, difference_type n) noexcept { return it += n; }
    friend const_iterator operator+(difference_type n, const_iterator it) noexcept { return it += n; }
    friend const_iterator operator-(const_iterator it, difference_type n) noexcept { return it -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) noexcept {
      return static_cast<difference_type>(a.index_) - static_cast<difference_type>(b.index_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept { return a.index_ == b.index_; }
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) noexcept { return a.index_ <=> b.index_; }

  private:
    friend class file_table;
    const_iterator(const file_table* t, std::size_t i) noexcept : table_(t), index_(i) {}
    const file_table* table_ = nullptr;
    std::size_t index_ = 0;
  };
  using iterator = const_iterator;

  file_table() = default;

  std::size_t size() const noexcept { return records_.size(); }
  bool empty() const noexcept { return records_.empty(); }
  bool contains(std::string_view path) const noexcept { return index_of(path) != npos; }
  std::optional<file_entry> find(std::string_view path) const;
  /// The view of one path, when present.
  std::optional<file_ref> find_ref(std::string_view path) const noexcept;
  /// Inserts or replaces the entry for `path`.
  void insert(std::string_view path, const file_entry& entry);
  /// Removes `path`; returns whether it was present.
  bool erase(std::string_view path);
  void clear() noexcept;
  /// Room for `files` entries (paths live in the process-wide pool: nothing to reserve for them).
  void reserve(std::size_t files);

  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, records_.size()}; }
  file_ref operator[](std::size_t i) const noexcept { return file_ref(this, i); }

  std::uint64_t total_size() const noexcept;

  /// Download URLs equal to `prefix + percent-encoded path` are derived, not stored.
  const std::string& url_prefix() const noexcept { return url_prefix_; }
  /// Changes the prefix; every entry keeps its URL.
  void set_url_prefix(std::string prefix);

  /// Heap bytes held (records, side tables; not the shared path pool); for benchmarks.
  std::size_t memory_bytes() const noexcept;

  /// Logical equality: same paths with the same entries.
  friend bool operator==(const file_table& a, const file_table& b);

private:
  friend class file_ref;
  friend struct detail::file_table_access;
  static constexpr std::uint32_t none = 0xFFFF'FFFFu;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  enum flag : std::uint8_t {
    oid_binary = 1,     // oid holds the digest; else the text record's oid
    url_derived = 2,    // url = url_prefix_ + encoded path
    url_stored = 4,     // url = the text record's url (may be empty when neither flag is set)
    xet_present = 8,
    xet_binary = 16,    // lfs_[lfs].xet holds the digest; else the text record's xet
    sha_binary = 32,    // lfs_[lfs].sha256 holds the digest; else the text record's sha256
    lfs_sizes_odd = 64, // LFS size or pointer size is not the derived one: the text record has them
    size_stored = 128,  // 2^56 bytes or more: the text record has the size
  };
  struct record {  // 36 bytes
    std::uint32_t size_low = 0;
    std::uint32_t high = 0;    // size bits 32-55, then the flags in the top byte
    std::uint32_t path = 0;    // id in detail::path_pool
    std::uint32_t lfs = none;  // index into lfs_
    std::array<std::uint8_t, 20> oid{};
    bool has(flag f) const noexcept { return (high >> 24) & f; }
    void set(flag f) noexcept { high |= std::uint32_t{f} << 24; }
    std::uint64_t small_size() const noexcept { return (std::uint64_t{high & 0xFF'FFFFu} << 32) | size_low; }
  };
  static_assert(sizeof(record) == 36);
  // An LFS file's size is its LFS size and the pointer's length follows from it (on the Hub,
  // always); only values that differ are kept, in the text record.
  struct lfs_record {
    std::array<std::uint8_t, 32> sha256{};
    std::array<std::uint8_t, 32> xet{};
  };
  struct text_record {  // values kept verbatim because they are not canonical; keyed by path id
    std::uint32_t path = 0;
    std::string oid, sha256, xet, url;
    std::uint64_t size = 0, lfs_size = 0;
    std::uint32_t pointer_size = 0;
  };

  static std::string_view path_of(const record& r) noexcept;
  std::uint64_t size_of(const record& r) const noexcept { return r.has(size_stored) ? text_of(r).size : r.small_size(); }
  std::size_t index_of(std::string_view path) const noexcept;
  std::size_t lower_bound(std::string_view path) const noexcept;
  record make_record(std::string_view path, const file_entry_view& entry);
  bool is_standard_url(std::string_view url, std::string_view path) const noexcept;
  std::size_t text_index(std::uint32_t path) const noexcept;  // lower bound in texts_
  text_record& text_of(const record& r);
  const text_record& text_of(const record& r) const noexcept;
  void erase_text(std::uint32_t path);
  std::string standard_url(std::string_view path) const;
  // Bulk building for parsers: append in any order, then sort once (the last duplicate wins).
  void append_unsorted(std::string_view path, const file_entry_view& entry) { records_.push_back(make_record(path, entry)); }
  void finish_unsorted();

  std::vector<record> records_;  // path-sorted
  std::vector<lfs_record> lfs_;
  std::vector<text_record> texts_;  // rare; sorted by path id
  std::string url_prefix_;
};

/// What the Hub says about a repository at a commit besides its files (its revision answer).
/// The record-level facts (config, tags, licence) go to the record's own fields instead.
struct hub_model_info {
  std::string pipeline_tag;  ///< empty when the Hub names none
  std::string library_name;
  std::string gated;  ///< empty when not gated, else the Hub's "auto" or "manual"
  bool is_private = false;
  bool disabled = false;
  timestamp last_modified{}, created_at{};  ///< zero when not said
  /// Safetensors parameter counts per dtype ("BF16", "F32", ...), sorted by dtype, and their total.
  std::vector<std::pair<std::string, std::uint64_t>> parameters;
  std::uint64_t total_parameters = 0;
  std::vector<std::string> base_models;  ///< cardData.base_model
  bool operator==(const hub_model_info&) const = default;
};

struct repo_structure {
  std::string model_id;
  hfmm::repo_type repo_type = repo_type::model;
  std::string branch = "main";
  std::string commit_sha;  ///< empty when unknown
  timestamp fetched_at{};
  file_table files;
  /// The structure before the last change of commit (one level).
  std::shared_ptr<const repo_structure> previous;
  /// The Hub's model info at commit_sha, when the fetch received it.
  std::optional<hub_model_info> model_info;

  std::uint64_t total_files() const noexcept { return files.size(); }
  std::uint64_t total_size() const noexcept { return files.total_size(); }

  /// Value equality (`previous` is compared by value).
  friend bool operator==(const repo_structure& a, const repo_structure& b);
};

/// The standard download URL prefix: `{endpoint}/{[datasets/|spaces/]}{repo_id}/resolve/{revision}/`.
std::string standard_url_prefix(std::string_view endpoint, repo_type type, std::string_view repo_id,
                                std::string_view revision);

/// A Git LFS pointer file for (sha256 hex, size): what git holds for an LFS file (and /raw/ serves).
std::string lfs_pointer_text(std::string_view sha256_hex, std::uint64_t size);
/// The git blob id of a Git LFS pointer file for (sha256 hex, size), and the pointer's length.
std::string lfs_pointer_oid(std::string_view sha256_hex, std::uint64_t size);
std::uint32_t lfs_pointer_size(std::uint64_t size) noexcept;

namespace detail {
/// The identity of a file's content, and its name in a Hugging Face cache's blobs/ and in the
/// Hub's ETag: its LFS SHA-256, else its git blob id.
inline std::string content_key(const file_ref& f) {
  if (auto lfs = f.lfs()) return lfs->sha256;
  return f.oid();
}
}  // namespace detail

// ---- free look-ups (the Python Model Manager's helpers). Absent structure → empty result.

/// Git oid of exactly `path` (case-sensitive).
std::optional<std::string> get_file_hash_from_structure(const repo_structure& s, std::string_view path);
std::optional<std::string> get_file_hash_from_structure(const std::optional<repo_structure>& s, std::string_view path);
std::optional<std::string> get_file_hash_from_structure(const repo_structure* s, std::string_view path);

/// Paths ending with `ext` (plain case-sensitive suffix; "" matches all), sorted.
std::vector<std::string> list_files_by_extension(const repo_structure& s, std::string_view ext);
std::vector<std::string> list_files_by_extension(const std::optional<repo_structure>& s, std::string_view ext);
std::vector<std::string> list_files_by_extension(const repo_structure* s, std::string_view ext);

/// LFS SHA-256 of `path`, when it is an LFS file.
std::optional<std::string> get_file_sha256_from_structure(const repo_structure& s, std::string_view path);
std::optional<std::string> get_file_sha256_from_structure(const std::optional<repo_structure>& s, std::string_view path);
std::optional<std::string> get_file_sha256_from_structure(const repo_structure* s, std::string_view path);

}  // namespace hfmm

#include <hfmm/impl/structure.ipp>
