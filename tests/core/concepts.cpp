#include <hfmm/hfmm.hpp>

#include "../support/doctest_result.hpp"

namespace {
// The smallest types that model the policies.
struct archetype_storage {
  hfmm::result<void> open() { return {}; }
  hfmm::result<std::vector<hfmm::model_metadata>> load() { return std::vector<hfmm::model_metadata>{}; }
  hfmm::result<void> upsert(const hfmm::model_metadata&) { return {}; }
  hfmm::result<void> upsert_many(std::span<const hfmm::model_metadata>) { return {}; }
  hfmm::result<void> erase(std::string_view) { return {}; }
  hfmm::result<void> close() { return {}; }
};
struct archetype_fetcher {
  boost::asio::awaitable<hfmm::result<hfmm::repo_structure>> async_fetch_structure(std::string_view, std::string_view) {
    co_return hfmm::errc::offline;
  }
};
struct storage_without_erase {
  hfmm::result<void> open();
  hfmm::result<std::vector<hfmm::model_metadata>> load();
  hfmm::result<void> upsert(const hfmm::model_metadata&);
  hfmm::result<void> upsert_many(std::span<const hfmm::model_metadata>);
  hfmm::result<void> close();
};
struct storage_with_bool_results : archetype_storage {
  bool open();
};
struct blocking_fetcher {
  hfmm::result<hfmm::repo_structure> async_fetch_structure(std::string_view, std::string_view);
};
struct immovable_fetcher : archetype_fetcher {
  immovable_fetcher() = default;
  immovable_fetcher(immovable_fetcher&&) = delete;
};
}  // namespace

static_assert(hfmm::storage<archetype_storage>);
static_assert(hfmm::storage<hfmm::memory_storage>);
static_assert(hfmm::storage<hfmm::json_file_storage>);
static_assert(!hfmm::storage<int>);
static_assert(!hfmm::storage<storage_without_erase>);
static_assert(!hfmm::storage<storage_with_bool_results>);
static_assert(!hfmm::reloadable_storage<hfmm::memory_storage>);
static_assert(hfmm::fetcher<archetype_fetcher>);
static_assert(!hfmm::revision_resolving_fetcher<archetype_fetcher>);
static_assert(hfmm::revision_resolving_fetcher<hfmm::mock_fetcher>);
static_assert(!hfmm::model_info_fetcher<archetype_fetcher>);
static_assert(hfmm::model_info_fetcher<hfmm::mock_fetcher>);
static_assert(!hfmm::fetcher<blocking_fetcher>);
static_assert(!hfmm::fetcher<immovable_fetcher>);
static_assert(!hfmm::fetcher<hfmm::memory_storage>);

TEST_CASE("a manager instantiates over the archetypes") {
  hfmm::model_manager<archetype_storage, archetype_fetcher> mm(archetype_storage{});
  CHECK(mm.add_model({.model_id = "a"}));
  CHECK(mm.refresh_repository_structure("a").error() == hfmm::errc::offline);
  auto report = mm.refresh_all();
  CHECK(report.failed() == 1);
  CHECK(report.requests == 0);  // the archetype does not count requests
  CHECK(mm.close());
  CHECK(mm.close());  // idempotent
}
