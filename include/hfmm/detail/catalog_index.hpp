#pragma once
// The manager's indexes, kept up to date on every mutation (so const queries stay lock-free):
//
// path_index — answers "models with a file path containing P" (ASCII case-insensitive) without
//   visiting every file of every model: the distinct lower-cased paths live in one blob that is
//   searched with memmem, and each distinct path has a sorted posting list of model slots.
// content_index — answers "models holding content H" (git oid or LFS SHA-256): an
//   open-addressing table of distinct 32-bit digest prefixes, 8 bytes a key, pointing at a slot
//   or, for a prefix several models share, at a posting list; candidates are confirmed against
//   the model's files.
//
// Every step is linear (or n log n) in the files indexed, however often one digest or path
// recurs: the real Hub shares .gitattributes, licences and tokenizers across most models.
//
// id_index — model_id → slot, an open-addressing table of slots that reads the ids from the
//   models themselves (4 bytes a model at most half full, instead of a map node and a copy).
//
// Slots are the manager's stable model numbers (first-insert order; removal leaves a hole).

#include <hfmm/detail/ascii.hpp>
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

/// The slots holding one key (a path, a digest prefix), ascending. Removal leaves a tombstone
/// (the slot with its top bit set) so that a model refreshed in place — removed, then added
/// again under the same slot — costs two binary searches, not two moves of a long list; a list
/// is compacted once tombstones make up half of it. Every step is O(log n) amortized however
/// many models share the key (the default .gitattributes is in nearly all of them).
class posting_list {
public:
  void add(std::uint32_t slot) {
    auto it = position(slot);
    if (it != slots_.end() && (*it & ~removed_bit) == slot) {
      if (*it & removed_bit) *it = slot, --removed_;
      return;
    }
    slots_.insert(it, slot);  // at the end for a new model: slots only grow
  }

  void remove(std::uint32_t slot) {
    auto it = position(slot);
    if (it == slots_.end() || *it != slot) return;
    *it |= removed_bit;
    if (++removed_ * 2 > slots_.size()) {
      std::erase_if(slots_, [](std::uint32_t s) { return (s & removed_bit) != 0; });
      removed_ = 0;
    }
  }

  template <class F>
  void for_each(F f) const {
    for (auto s : slots_)
      if (!(s & removed_bit)) f(s);
  }

private:
  static constexpr std::uint32_t removed_bit = 0x8000'0000u;
  std::vector<std::uint32_t>::iterator position(std::uint32_t slot) {
    return std::lower_bound(slots_.begin(), slots_.end(), slot,
                            [](std::uint32_t a, std::uint32_t b) { return (a & ~removed_bit) < b; });
  }
  std::vector<std::uint32_t> slots_;  // ascending by slot (the top bit aside)
  std::uint32_t removed_ = 0;
};

class path_index {
public:
  void add(std::uint32_t slot, const repo_structure& s) {
    for (auto id : ids_of(s, true)) postings_[id].add(slot);
  }

  void remove(std::uint32_t slot, const repo_structure& s) {
    for (auto id : ids_of(s, false))
      if (id != npos) postings_[id].remove(slot);
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
      for (const auto& list : postings_) list.for_each(mark);
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
      postings_[k].for_each(mark);
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
  const posting_list* exact(const std::string& lower_path) const {
    auto it = ids_.find(lower_path);
    return it == ids_.end() ? nullptr : &postings_[it->second];
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
  std::vector<posting_list> postings_;
};

/// The models with a path containing `lower_pattern`, found by visiting every file once — what
/// a process that asks one question does instead of building a path_index. Each distinct path
/// (by pool id) is lower-cased and searched once; `mark(slot)` is called once per model.
template <class Structures, class Mark>
void scan_path_matches(const Structures& structure_of_slot, std::size_t slots, std::string_view lower_pattern, Mark mark) {
  std::unordered_map<std::uint32_t, bool> matches;  // pool path id → contains the pattern
  std::string lower;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const repo_structure* s = structure_of_slot(slot);
    if (!s) continue;
    for (std::size_t i = 0; i < s->files.size(); ++i) {
      auto [it, fresh] = matches.try_emplace(file_table_access::path_id(s->files, i), false);
      if (fresh) {
        lower_ascii_into(lower, s->files[i].path());
        it->second = lower_pattern.find('\n') == std::string_view::npos && lower.find(lower_pattern) != std::string::npos;
      }
      if (it->second) {
        mark(static_cast<std::uint32_t>(slot));
        break;
      }
    }
  }
}

/// Digest prefix → slots. A prefix held by one model (most LFS files) takes one 8-byte cell; a
/// shared one (.gitattributes, licences, tokenizers, forks) points at a posting_list, so the
/// build stays linear however often one digest recurs.
class content_index {
public:
  void add(std::uint32_t slot, const repo_structure& s) {
    for (auto k : keys_of(s)) insert(k, slot);
  }

  void remove(std::uint32_t slot, const repo_structure& s) {
    for (auto k : keys_of(s)) {
      auto i = find(k);
      if (i == npos) continue;
      auto* c = &cells_[i];
      if (c->value & list_bit) lists_[c->value & ~list_bit].remove(slot);
      else if (c->value == slot) c->value = no_slot;  // the key stays, for the model's return
    }
  }

  void clear() {
    cells_.clear();
    lists_.clear();
    used_ = 0;
  }

  /// Candidate slots for a key, detail::hex_prefix32 of the digest (ascending, unique).
  std::vector<std::uint32_t> candidates(std::uint32_t k) const {
    std::vector<std::uint32_t> out;
    if (auto i = find(k); i != npos) {
      auto v = cells_[i].value;
      if (v & list_bit) lists_[v & ~list_bit].for_each([&](std::uint32_t s) { out.push_back(s); });
      else if (v != no_slot) out.push_back(v);
    }
    return out;
  }

private:
  struct cell {
    std::uint32_t key;
    std::uint32_t value;  // a slot, no_slot, or list_bit | index into lists_
  };
  static constexpr std::uint32_t empty = 0xFFFF'FFFFu, no_slot = 0x7FFF'FFFFu, list_bit = 0x8000'0000u;
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

  std::size_t home(std::uint32_t k) const noexcept {
    return (k * 0x9E37'79B9u) & mask();  // prefixes are near-uniform; the multiply guards odd ones
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t find(std::uint32_t k) const noexcept {
    if (cells_.empty()) return npos;
    for (std::size_t i = home(k); cells_[i].value != empty; i = (i + 1) & mask())
      if (cells_[i].key == k) return i;
    return npos;
  }

  void insert(std::uint32_t k, std::uint32_t slot) {
    if (auto found = find(k); found != npos) {
      auto* c = &cells_[found];
      if (c->value & list_bit) {
        lists_[c->value & ~list_bit].add(slot);
      } else if (c->value == no_slot || c->value == slot) {
        c->value = slot;
      } else {  // a second model holds this key: from now on a list
        posting_list list;
        list.add(std::min(c->value, slot));
        list.add(std::max(c->value, slot));
        c->value = list_bit | static_cast<std::uint32_t>(lists_.size());
        lists_.push_back(std::move(list));
      }
      return;
    }
    if ((used_ + 1) * 10 > cells_.size() * 7) grow(used_ + 1);
    std::size_t i = home(k);
    while (cells_[i].value != empty) i = (i + 1) & mask();
    cells_[i] = {k, slot};
    ++used_;
  }

  /// Rehashes into a table where `keys` fill well under 70% (room to grow before the next).
  void grow(std::size_t keys) {
    std::vector<cell> old = std::move(cells_);
    std::size_t size = 16;
    while (size * 7 < keys * 20) size *= 2;
    cells_.assign(size, cell{0, empty});
    for (const auto& c : old)
      if (c.value != empty) {
        std::size_t i = home(c.key);
        while (cells_[i].value != empty) i = (i + 1) & mask();
        cells_[i] = c;
      }
  }

  std::vector<cell> cells_;
  std::vector<posting_list> lists_;
  std::size_t used_ = 0;  // distinct keys in cells_
};

}  // namespace hfmm::detail
