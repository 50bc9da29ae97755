#pragma once
// The two policies of model_manager, as concepts. Valid-expression tables: docs/policies.md.

#include <hfmm/detail/ascii.hpp>
#include <hfmm/error.hpp>
#include <hfmm/model.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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

/// get_stats(); its JSON uses the Python Model Manager's keys.
struct manager_stats {
  std::size_t total_models = 0;
  std::map<std::string, std::size_t> models_by_type, models_by_architecture, common_input_types, common_output_types;
  std::size_t models_with_hf_config = 0, models_with_inference_code = 0, models_with_repo_structure = 0;
  std::uint64_t total_tracked_files = 0;
  std::uint64_t total_tracked_bytes = 0;
  bool operator==(const manager_stats&) const = default;
};

/// What a refresh needs of a stored model, without its files: which repository and branch it
/// tracks and the commit it is pinned to.
struct model_pin {
  std::string model_id;
  bool has_structure = false;
  repo_type type = repo_type::model;
  std::string repo_id;     ///< the structure's repo id; empty: the model id
  std::string branch;      ///< empty without a structure ("main" is fetched)
  std::string commit_sha;  ///< empty without a structure
  bool operator==(const model_pin&) const = default;
};

/// One file of one stored model.
struct stored_path {
  std::string model_id, path;
  bool operator==(const stored_path&) const = default;
};

/// All given conditions must hold; every listed tag must be present.
struct model_filter {
  std::optional<hfmm::model_type> model_type;
  std::optional<std::string> architecture;
  std::vector<std::string> tags;
};

/// What list_models, search_models and the io-type queries ask of a record's own fields (never
/// its files); a part left unset matches every record. matches() is the one definition the
/// resident manager and a queryable store both answer by.
struct record_query {
  model_filter filter;
  /// An ASCII case-insensitive substring of the name, the description or a tag ("": any).
  std::string text;
  std::optional<data_type> input, output;  ///< an input (output) of this data type

  bool matches(const model_metadata& m) const { return matches(m, detail::to_lower_ascii(text)); }
  /// The same, with `folded_text` = to_lower_ascii(text), folded once for many models.
  bool matches(const model_metadata& m, std::string_view folded_text) const {
    auto has_type = [](const std::vector<io_spec>& specs, data_type t) {
      return std::any_of(specs.begin(), specs.end(), [t](const io_spec& s) { return s.data_type == t; });
    };
    auto has_tag = [&](const std::string& tag) { return std::find(m.tags.begin(), m.tags.end(), tag) != m.tags.end(); };
    if (filter.model_type && m.model_type != *filter.model_type) return false;
    if (filter.architecture && m.architecture != *filter.architecture) return false;
    if (!std::all_of(filter.tags.begin(), filter.tags.end(), has_tag)) return false;
    if ((input && !has_type(m.inputs, *input)) || (output && !has_type(m.outputs, *output))) return false;
    if (folded_text.empty()) return true;
    auto has_text = [&](const std::string& field) { return detail::icontains(field, folded_text); };
    return has_text(m.model_name) || has_text(m.description) || std::any_of(m.tags.begin(), m.tags.end(), has_text);
  }
};

/// A store that answers the manager's queries itself (the SQL stores): model_manager then
/// does not load the catalog on open, materializes only the models a result names, and
/// writes straight through. Every answer is in catalog (first-insert) order, as the
/// resident manager gives it; valid expressions and semantics: docs/policies.md.
template <class S>
concept queryable_storage = storage<S> && requires(S s, std::string_view text, std::span<const std::string> ids,
                                                    const record_query& query) {
  { s.model_count() } -> std::same_as<result<std::size_t>>;
  { s.contains(text) } -> std::same_as<result<bool>>;
  { s.find_model(text) } -> std::same_as<result<std::optional<model_metadata>>>;
  { s.find_models(ids) } -> std::same_as<result<std::vector<model_metadata>>>;
  { s.model_pins() } -> std::same_as<result<std::vector<model_pin>>>;
  { s.models_with_path(text) } -> std::same_as<result<std::vector<std::string>>>;
  { s.files_with_content(text) } -> std::same_as<result<std::vector<stored_path>>>;
  { s.stats() } -> std::same_as<result<manager_stats>>;
  { s.models_matching(query) } -> std::same_as<result<std::vector<std::string>>>;
};

/// Writes one batch of a stream (see batch_writing_storage).
using batch_writer = std::function<result<void>(std::span<const model_metadata>)>;

/// A store that writes a stream of batches as one transaction: upsert_batches(produce) calls
/// produce(write), which calls write(batch) for each batch and returns its own result. All or
/// nothing — a failure of either leaves the store as it was — with only the current batch in
/// the caller's memory (a bulk import of a catalog larger than memory).
template <class S>
concept batch_writing_storage = storage<S> && requires(S s, const std::function<result<void>(const batch_writer&)>& produce) {
  { s.upsert_batches(produce) } -> std::same_as<result<void>>;
};

/// Takes one batch of a stream (see batch_reading_storage).
using batch_reader = std::function<result<void>(std::span<const model_metadata>)>;

/// A store that reads its whole catalog as a stream of batches: read_batches(consume) calls
/// consume(batch) for each batch, in catalog order, all on one snapshot of the store, until the
/// end or consume's first error (returned). Only the current batch is in memory (an export of a
/// catalog larger than memory).
template <class S>
concept batch_reading_storage = storage<S> && requires(S s, const batch_reader& consume) {
  { s.read_batches(consume) } -> std::same_as<result<void>>;
};

/// Another model as get_similar_models sees it against a target (similarity_storage).
struct model_overlap {
  std::string model_id;
  std::size_t files = 0;            ///< its files
  std::size_t shared_paths = 0;     ///< of those, at a path the target also has
  std::size_t shared_contents = 0;  ///< distinct contents (LFS SHA-256, else git oid) the target also holds
  bool operator==(const model_overlap&) const = default;
};

/// What get_similar_models needs of a model beyond its overlap: the content score's denominator.
struct model_extent {
  std::size_t contents = 0;  ///< distinct contents among its files
  bool operator==(const model_extent&) const = default;
};

/// A store that answers get_similar_models' two questions, so that it reads the models sharing
/// something with the target and materializes only the answer: model_overlaps(id), every other
/// model sharing a path or a content with `id`, in catalog order, with its file count;
/// model_extents(ids), each listed model's distinct contents, in the order of `ids` (a model not
/// stored: zero).
template <class S>
concept similarity_storage = storage<S> && requires(S s, std::string_view id, std::span<const std::string> ids) {
  { s.model_overlaps(id) } -> std::same_as<result<std::vector<model_overlap>>>;
  { s.model_extents(ids) } -> std::same_as<result<std::vector<model_extent>>>;
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

/// A fetcher that lists repositories with their current commits (the Hub's /api/models?author=)
/// lets refresh_all learn many repositories' commits in one request.
template <class F>
concept repo_listing_fetcher = fetcher<F> && requires(F f, repo_listing_query q) {
  { f.async_list_repos(q) } -> std::same_as<boost::asio::awaitable<result<std::vector<listed_repo>>>>;
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
