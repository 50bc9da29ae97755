#pragma once
// The two policies of model_manager, as concepts. Valid-expression tables: docs/policies.md.

#include <hfmm/error.hpp>
#include <hfmm/model.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfmm {

/// How a store is opened. read_only takes no writer lock and creates nothing (a catalog in a
/// read-only directory can be queried), is never blocked by a writer, and sees the last
/// committed state; every write to it fails with errc::storage_read_only.
enum class open_mode { read_write, read_only };

/// Where a catalog lives. Constructors do no I/O; open() locks, connects and migrates.
template <class S>
concept storage = std::movable<S> && requires(S s, const model_metadata& m, std::span<const model_metadata> many,
                                              std::string_view id) {
  { s.open() } -> std::same_as<result<void>>;
  { s.load() } -> std::same_as<result<std::vector<model_metadata>>>;
  { s.upsert(m) } -> std::same_as<result<void>>;
  { s.upsert_many(many) } -> std::same_as<result<void>>;
  { s.erase(id) } -> std::same_as<result<void>>;
  { s.close() } -> std::same_as<result<void>>;
};

/// A storage shared with other writers offers reload(): everything, as stored now.
template <class S>
concept reloadable_storage = storage<S> && requires(S s) {
  { s.reload() } -> std::same_as<result<std::vector<model_metadata>>>;
};

/// What a storage promises, for code (and the shared contract test) that adapts to it:
/// persistent (survives close/open), single_writer (a second open gets storage_locked),
/// can_be_corrupt (a damaged store is refused with storage_corrupt and left untouched).
/// Each storage specializes it beside its definition.
template <class S>
struct storage_traits {
  static constexpr bool persistent = true;
  static constexpr bool single_writer = true;
  static constexpr bool can_be_corrupt = true;
};

/// Where repository structures come from.
template <class F>
concept fetcher = std::movable<F> && requires(F f, std::string_view id, std::string_view revision) {
  { f.async_fetch_structure(id, revision) } -> std::same_as<boost::asio::awaitable<result<repo_structure>>>;
};

/// A fetcher that can tell a revision's commit sha cheaply lets refresh_all skip unchanged repos.
template <class F>
concept revision_resolving_fetcher = fetcher<F> && requires(F f, std::string_view id, std::string_view revision) {
  { f.async_resolve_revision(id, revision) } -> std::same_as<boost::asio::awaitable<result<std::string>>>;
};

/// A fetcher that also gives the record-level model info of the commit it pinned (the Hub's
/// config, tags and licence) fills new records' architecture, config, tags and licence.
template <class F>
concept model_info_fetcher = fetcher<F> && requires(F f, std::string_view id, std::string_view revision) {
  { f.async_fetch_model(id, revision) } -> std::same_as<boost::asio::awaitable<result<fetched_model>>>;
};

/// A fetcher with an endpoint() names the base of source and download URLs.
template <class F>
concept fetcher_with_endpoint = requires(const F f) {
  { f.endpoint() } -> std::convertible_to<std::string_view>;
};

/// A fetcher that counts its requests lets refresh_all report how many it made.
template <class F>
concept counting_fetcher = requires(const F f) {
  { f.requests() } -> std::convertible_to<std::size_t>;
};

}  // namespace hfmm
