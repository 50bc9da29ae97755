#pragma once
// A set of distinct strings, each with a small value: what a catalog scan asks once per record
// ("seen this key?", "where was this model first?"). Open addressing over (hash, offset) with
// every text in one buffer, so an insert costs no allocation of its own — a node-based
// std::unordered_map<std::string, V> costs one or two per record, and a scan of 100 000
// records felt it. Its few large blocks grow geometrically and go back to the system whole.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfmm::detail {

/// For std::unordered_map<std::string, V, string_hash, std::equal_to<>>: look-ups by string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Value>
class string_table {
public:
  /// The value of `key`, inserting `value` when the key is new (second: whether it was).
  /// The pointer is valid until the next insert.
  std::pair<Value*, bool> try_emplace(std::string_view key, Value value) {
    if ((used_ + 1) * 2 > slots_.size()) grow();
    auto hash = hash_of(key);
    for (auto i = hash & mask();; i = (i + 1) & mask()) {
      auto& slot = slots_[i];
      if (slot.end == 0) {
        texts_.append(key).push_back('\0');  // so that even an empty key ends past 0
        slot = {texts_.size(), hash, static_cast<std::uint32_t>(key.size()), std::move(value)};
        ++used_;
        return {&slot.value, true};
      }
      if (slot.hash == hash && text(slot) == key) return {&slot.value, false};
    }
  }

  /// The value of `key`, or null.
  Value* find(std::string_view key) {
    auto hash = hash_of(key);
    for (auto i = hash & mask();; i = (i + 1) & mask()) {
      auto& slot = slots_[i];
      if (slot.end == 0) return nullptr;
      if (slot.hash == hash && text(slot) == key) return &slot.value;
    }
  }

  std::size_t size() const noexcept { return used_; }
  void clear() {
    for (auto& slot : slots_) slot.end = 0;
    texts_.clear();
    used_ = 0;
  }

private:
  struct slot_type {
    std::uint64_t end = 0;  // one past the text's terminator in texts_; 0: an empty slot
    std::uint32_t hash = 0, size = 0;
    Value value{};
  };

  static std::uint32_t hash_of(std::string_view key) noexcept {
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key));
  }
  std::size_t mask() const noexcept { return slots_.size() - 1; }
  std::string_view text(const slot_type& slot) const noexcept {
    return std::string_view(texts_).substr(slot.end - slot.size - 1, slot.size);
  }

  void grow() {
    std::vector<slot_type> bigger(slots_.size() * 2);
    auto new_mask = bigger.size() - 1;
    for (auto& slot : slots_) {
      if (slot.end == 0) continue;
      auto i = slot.hash & new_mask;
      while (bigger[i].end != 0) i = (i + 1) & new_mask;
      bigger[i] = std::move(slot);
    }
    slots_.swap(bigger);
  }

  std::vector<slot_type> slots_ = std::vector<slot_type>(16);
  std::string texts_;
  std::size_t used_ = 0;
};

}  // namespace hfmm::detail
