#pragma once
// The manager's indexes, kept up to date on every mutation (so const queries stay lock-free):
//
// path_index — answers "models with a file path containing P" (ASCII case-insensitive) without
//   visiting every file of every model: the distinct lower-cased paths live in one blob that is
//   searched with memmem, and each distinct path has a sorted posting list of model slots.
// content_index — answers "models holding content H" (git oid or LFS SHA-256): an
//   open-addressing table of (first 32 bits of the digest, slot), 8 bytes a digest; candidates
//   are confirmed against the model's files.
//
// id_index — model_id → slot, an open-addressing table of slots that reads the ids from the
//   models themselves (4 bytes a model at most half full, instead of a map node and a copy).
//
// Slots are the manager's stable model numbers (first-insert order; removal leaves a hole).

#include <hfmm/structure.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hfmm::detail {

inline void lower_ascii_into(std::string& out, std::string_view s) {
  out.assign(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
}

class id_index {
public:
  static constexpr std::uint32_t none = 0xFFFF'FFFFu;

  /// The slot of `id`, or none. `id_of(slot)` names the model in a slot.
  template <class IdOf>
  std::uint32_t find(std::string_view id, const IdOf& id_of) const noexcept {
    if (slots_.empty()) return none;
    for (auto i = home(id);; i = next(i)) {
      if (slots_[i] == none) return none;
      if (id_of(slots_[i]) == id) return slots_[i];
    }
  }

  /// Makes room for `more` insertions, so insert() cannot fail.
  template <class IdOf>
  void reserve(std::size_t more, const IdOf& id_of) {
    auto want = std::size_t{16};
    while (want < (size_ + more) * 2) want *= 2;
    if (want <= slots_.size()) return;
    std::vector<std::uint32_t> old(want, none);
    old.swap(slots_);
    for (auto slot : old)
      if (slot != none) place(id_of(slot), slot);
  }

  /// Adds a slot whose id is not present yet; reserve() first.
  void insert(std::string_view id, std::uint32_t slot) noexcept {
    place(id, slot);
    ++size_;
  }

  /// Removes `id` (linear probing: later entries of the run move back, no tombstones).
  template <class IdOf>
  void erase(std::string_view id, const IdOf& id_of) noexcept {
    if (slots_.empty()) return;
    auto hole = home(id);
    for (;; hole = next(hole)) {
      if (slots_[hole] == none) return;
      if (id_of(slots_[hole]) == id) break;
    }
    slots_[hole] = none;
    --size_;
    for (auto i = next(hole); slots_[i] != none; i = next(i)) {
      auto h = home(id_of(slots_[i]));
      // The entry at i may fill the hole unless its home lies cyclically in (hole, i].
      bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);
      if (stays) continue;
      slots_[hole] = slots_[i];
      slots_[i] = none;
      hole = i;
    }
  }

  void clear() noexcept {
    slots_.clear();
    size_ = 0;
  }

private:
  std::size_t home(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id) & (slots_.size() - 1); }
  std::size_t next(std::size_t i) const noexcept { return (i + 1) & (slots_.size() - 1); }
  void place(std::string_view id, std::uint32_t slot) noexcept {
    auto i = home(id);
    while (slots_[i] != none) i = next(i);
    slots_[i] = slot;
  }

  std::vector<std::uint32_t> slots_;  // a power of two in size, at most half full
  std::size_t size_ = 0;
};

class path_index {
public:
  void add(std::uint32_t slot, const repo_structure& s) {
    for (auto id : ids_of(s, true)) {
      auto& list = postings_[id];
      list.insert(std::upper_bound(list.begin(), list.end(), slot), slot);
    }
  }

  void remove(std::uint32_t slot, const repo_structure& s) {
    for (auto id : ids_of(s, false)) {
      if (id == npos) continue;
      auto& list = postings_[id];
      auto it = std::lower_bound(list.begin(), list.end(), slot);
      if (it != list.end() && *it == slot) list.erase(it);
    }
  }

  void clear() {
    ids_.clear();
    by_pool_id_.clear();
    blob_.clear();
    starts_.clear();
    postings_.clear();
  }

  /// Calls mark(slot) for every model with a path containing `lower_pattern` (may repeat slots).
  template <class Mark>
  void for_each_match(std::string_view lower_pattern, Mark mark) const {
    if (lower_pattern.find('\n') != std::string_view::npos) return;
    if (lower_pattern.empty()) {
      for (const auto& list : postings_)
        for (auto slot : list) mark(slot);
      return;
    }
    const char* base = blob_.data();
    std::size_t pos = 0;
    while (pos < blob_.size()) {
      auto* hit = static_cast<const char*>(
          ::memmem(base + pos, blob_.size() - pos, lower_pattern.data(), lower_pattern.size()));
      if (!hit) break;
      auto offset = static_cast<std::size_t>(hit - base);
      // The distinct path holding this offset; then go on after it (one visit per path).
      auto k = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
      for (auto slot : postings_[k]) mark(slot);
      pos = k + 1 < starts_.size() ? starts_[k + 1] : blob_.size();
    }
  }

  /// Whether `lower_path` occurs in the blob only as that whole path (then exact() answers).
  bool unique_match(const std::string& lower_path) const {
    auto it = ids_.find(lower_path);
    if (it == ids_.end()) return false;
    auto first = ::memmem(blob_.data(), blob_.size(), lower_path.data(), lower_path.size());
    if (static_cast<const char*>(first) != blob_.data() + starts_[it->second]) return false;
    auto after = starts_[it->second] + lower_path.size();
    return !::memmem(blob_.data() + after, blob_.size() - after, lower_path.data(), lower_path.size());
  }

  /// Slots holding exactly this lower-cased path.
  const std::vector<std::uint32_t>* exact(const std::string& lower_path) const {
    auto it = ids_.find(lower_path);
    return it == ids_.end() ? nullptr : &postings_[it->second];
  }

  std::size_t memory_bytes() const {
    std::size_t bytes = blob_.capacity() + starts_.capacity() * 4 + postings_.capacity() * sizeof(postings_[0]);
    for (const auto& p : postings_) bytes += p.capacity() * 4;
    for (const auto& kv : ids_) bytes += kv.first.capacity() + 48;
    bytes += by_pool_id_.size() * 24 + by_pool_id_.bucket_count() * 8;
    return bytes;
  }

private:
  static constexpr std::uint32_t npos = 0xFFFF'FFFFu;

  /// The distinct path ids of a structure (created when `create`), sorted and unique.
  std::vector<std::uint32_t> ids_of(const repo_structure& s, bool create) {
    std::vector<std::uint32_t> ids;
    ids.reserve(s.files.size());
    for (std::size_t i = 0; i < s.files.size(); ++i) {
      // Catalogs repeat the same few thousand paths: look the pool id up first, and
      // lower-case and hash the text only for a path this index has not seen yet.
      auto pool_id = file_table_access::path_id(s.files, i);
      auto known = by_pool_id_.find(pool_id);
      if (known != by_pool_id_.end()) {
        ids.push_back(known->second);
        continue;
      }
      auto id = id_of_text(s.files[i].path(), create);
      if (id != npos) by_pool_id_.emplace(pool_id, id);
      ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }

  /// The id of a path's lower-cased text (paths differing only in case share it).
  std::uint32_t id_of_text(std::string_view path, bool create) {
    std::string lower;
    lower_ascii_into(lower, path);
    if (auto it = ids_.find(lower); it != ids_.end()) return it->second;
    if (!create) return npos;
    auto id = static_cast<std::uint32_t>(starts_.size());
    starts_.push_back(static_cast<std::uint32_t>(blob_.size()));
    blob_ += lower;
    blob_ += '\n';  // a separator no pattern can span
    postings_.emplace_back();
    ids_.emplace(std::move(lower), id);
    return id;
  }

  std::unordered_map<std::string, std::uint32_t> ids_;
  std::unordered_map<std::uint32_t, std::uint32_t> by_pool_id_;  // pool path id → id
  std::string blob_;
  std::vector<std::uint32_t> starts_;
  std::vector<std::vector<std::uint32_t>> postings_;
};

class content_index {
public:
  void add(std::uint32_t slot, const repo_structure& s) {
    for (auto k : keys_of(s)) insert(k, slot);
  }

  /// Room for `keys` more keys without growing (a bulk build rehashes nothing).
  void reserve(std::size_t keys) {
    if ((used_ + keys) * 10 > cells_.size() * 7) grow(live_ + keys);
  }

  /// Keys a structure adds at most (one per git oid and one per LFS SHA-256).
  static std::size_t max_keys(const repo_structure& s) noexcept {
    return s.files.size() + file_table_access::lfs_count(s.files);
  }

  void remove(std::uint32_t slot, const repo_structure& s) {
    for (auto k : keys_of(s)) {
      if (cells_.empty()) return;
      for (std::size_t i = k & mask(); cells_[i].slot != empty; i = (i + 1) & mask())
        if (cells_[i].key == k && cells_[i].slot == slot) {
          cells_[i].slot = deleted;
          --live_;
          break;
        }
    }
  }

  void clear() {
    cells_.clear();
    used_ = live_ = 0;
  }

  /// Candidate slots for a key, detail::hex_prefix32 of the digest (sorted, unique).
  std::vector<std::uint32_t> candidates(std::uint32_t k) const {
    std::vector<std::uint32_t> out;
    if (cells_.empty()) return out;
    for (std::size_t i = k & mask(); cells_[i].slot != empty; i = (i + 1) & mask())
      if (cells_[i].key == k && cells_[i].slot != deleted) out.push_back(cells_[i].slot);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::size_t memory_bytes() const { return cells_.capacity() * sizeof(cell); }

private:
  struct cell {
    std::uint32_t key;
    std::uint32_t slot;
  };
  static constexpr std::uint32_t empty = 0xFFFF'FFFFu, deleted = 0xFFFF'FFFEu;
  std::size_t mask() const { return cells_.size() - 1; }

  static std::vector<std::uint32_t> keys_of(const repo_structure& s) {
    std::vector<std::uint32_t> keys;
    keys.reserve(s.files.size() + 8);
    for (std::size_t i = 0; i < s.files.size(); ++i) {  // from the stored digests: no hex strings made
      if (auto k = file_table_access::oid_prefix32(s.files, i)) keys.push_back(*k);
      if (auto k = file_table_access::sha256_prefix32(s.files, i)) keys.push_back(*k);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  void insert(std::uint32_t k, std::uint32_t slot) {
    if ((used_ + 1) * 10 > cells_.size() * 7) grow(live_ + 1);
    std::size_t i = k & mask();
    while (cells_[i].slot != empty && cells_[i].slot != deleted) i = (i + 1) & mask();
    if (cells_[i].slot == empty) ++used_;
    cells_[i] = {k, slot};
    ++live_;
  }

  /// Rehashes into a table where `keys` fill well under 70% (room to grow before the next).
  void grow(std::size_t keys) {
    std::vector<cell> old = std::move(cells_);
    std::size_t size = 16;
    while (size * 7 < keys * 20) size *= 2;
    cells_.assign(size, cell{0, empty});
    used_ = live_ = 0;
    for (const auto& c : old)
      if (c.slot != empty && c.slot != deleted) insert(c.key, c.slot);
  }

  std::vector<cell> cells_;
  std::size_t used_ = 0, live_ = 0;
};

}  // namespace hfmm::detail
