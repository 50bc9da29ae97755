#pragma once
// memory_storage: a catalog that lives only as long as its manager. It can be seeded with
// models, which load() hands out once; writes are accepted and kept nowhere else.

#include <hfmm/concepts.hpp>

#include <vector>

namespace hfmm {

class memory_storage {
public:
  memory_storage() = default;
  /// The models load() returns (first-insert order).
  explicit memory_storage(std::vector<model_metadata> seed) : seed_(std::move(seed)) {}

  result<void> open() { return {}; }
  result<std::vector<model_metadata>> load() { return std::exchange(seed_, {}); }
  result<void> upsert(const model_metadata&) { return {}; }
  result<void> upsert_many(std::span<const model_metadata>) { return {}; }
  result<void> erase(std::string_view) { return {}; }
  result<void> close() { return {}; }

private:
  std::vector<model_metadata> seed_;
};

static_assert(storage<memory_storage>);

template <>
struct storage_traits<memory_storage> {
  static constexpr bool persistent = false;
  static constexpr bool single_writer = false;
  static constexpr bool can_be_corrupt = false;
};

}  // namespace hfmm
