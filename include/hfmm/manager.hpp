#pragma once
// model_manager<Storage, Fetcher>: the catalog of models and their repository structures.
//
// Every method of the Python Model Manager, plus commit-pinned batch refresh, history,
// content and similarity queries. Storage and fetcher are policies chosen at compile time
// (concepts in <hfmm/concepts.hpp>).
//
// Thread safety: writers (add/remove/refresh/import/reload/close) need exclusive access;
// concurrent const calls are safe while no writer runs. Pointers returned by queries are
// valid until the next mutation. Query results are in first-insert order.
//
// Two modes, chosen by the storage: a resident store (memory, JSON file) is loaded on open
// and queried through in-memory indexes; a queryable store (SQLite, DuckDB, PostgreSQL;
// queryable_storage) is asked each question, so a one-shot command costs the question, not
// the catalog. The answers are the same in both modes.

#include <hfmm/concepts.hpp>
#include <hfmm/detail/blocking.hpp>
#include <hfmm/detail/catalog_index.hpp>
#include <hfmm/detail/config.hpp>
#include <hfmm/fetch/mock_fetcher.hpp>
#include <hfmm/huggingface.hpp>
#include <hfmm/json.hpp>
#include <hfmm/storage/json_file.hpp>
#include <hfmm/storage/memory.hpp>

#include <boost/system/system_error.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hfmm {

struct refresh_progress {
  std::size_t done, total;
  std::string_view current;
  std::optional<std::chrono::seconds> eta;
};

struct refresh_options {
  std::size_t concurrency = 16;
  bool only_changed = true;  ///< skip the listing when the commit sha did not change
  std::function<void(const refresh_progress&)> on_progress;
  std::stop_token stop;
};

struct refresh_report {
  struct item {
    std::string model_id;
    result<void> outcome;
    bool changed;
  };
  std::vector<item> items;
  std::size_t requests;  ///< requests the fetcher made (0 when it does not count them)
  std::size_t failed() const noexcept {
    return static_cast<std::size_t>(std::count_if(items.begin(), items.end(), [](const item& i) { return !i.outcome; }));
  }
};

struct content_match {
  const model_metadata* model;
  std::string path;
  bool operator==(const content_match&) const = default;
};

struct similar_model {
  const model_metadata* model;
  double path_jaccard, content_jaccard;
  bool operator==(const similar_model&) const = default;
};

/// Identical content stored more than once across the catalog.
struct duplicate_report {
  struct group {
    std::string content;  ///< LFS SHA-256, or the git oid of a regular file
    std::uint64_t size = 0;
    std::vector<content_match> files;
    bool operator==(const group&) const = default;
  };
  std::vector<group> groups;        ///< largest reclaimable bytes first
  std::uint64_t reclaimable_bytes = 0;  ///< sum over groups of (copies - 1) × size
  bool operator==(const duplicate_report&) const = default;
};

/// manager_stats (concepts.hpp) as JSON, with the Python Model Manager's keys.
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const manager_stats& s);
result<manager_stats> tag_invoke(boost::json::try_value_to_tag<manager_stats>, const boost::json::value& jv);

namespace detail {
/// A queried manager's models: those its results named, by id, until the next mutation
/// (pointers stay valid as long), the whole catalog once a query needed it, the model count.
struct materialized_models {
  std::unique_ptr<std::mutex> mutex = std::make_unique<std::mutex>();  ///< the store serves one query at a time
  std::map<std::string, std::unique_ptr<model_metadata>, std::less<>> by_id;
  std::optional<std::vector<const model_metadata*>> all;
  std::optional<std::size_t> count;
  error_code error;
  materialized_models() = default;
  materialized_models(materialized_models&& o) noexcept
      : mutex(std::exchange(o.mutex, std::make_unique<std::mutex>())), by_id(std::move(o.by_id)), all(std::move(o.all)),
        count(std::exchange(o.count, std::nullopt)), error(o.error) {}
  materialized_models& operator=(materialized_models&& o) noexcept {
    std::swap(mutex, o.mutex);
    by_id = std::move(o.by_id);
    all = std::move(o.all);
    count = std::exchange(o.count, std::nullopt);
    error = o.error;
    return *this;
  }
  /// After a write: every materialized model may be stale.
  void forget() {
    by_id.clear();
    all.reset();
    count.reset();
  }
};
}  // namespace detail

template <hfmm::storage Storage = json_file_storage, hfmm::fetcher Fetcher = mock_fetcher>
class model_manager {
public:
  /// open() + load(); throws boost::system::system_error on failure, the store untouched.
  explicit model_manager(Storage s, Fetcher f = {});
  /// The non-throwing constructor.
  static result<model_manager> open(Storage s, Fetcher f = {});
  /// The same; on failure `why` says what the store reported (path, position, cause).
  static result<model_manager> open(Storage s, Fetcher f, diagnostics& why);
  model_manager(model_manager&& o) noexcept;
  model_manager& operator=(model_manager&& o) noexcept;
  model_manager(const model_manager&) = delete;
  model_manager& operator=(const model_manager&) = delete;
  ~model_manager() { (void)close(); }

  Storage& storage() noexcept { return storage_; }
  const Storage& storage() const noexcept { return storage_; }
  Fetcher& fetcher() noexcept { return fetcher_; }
  const Fetcher& fetcher() const noexcept { return fetcher_; }

  /// Persists and releases the store; idempotent.
  result<void> close();
  /// Reloads everything from the store (what other writers stored, for shared stores). In
  /// queried mode every question already goes to the store; reload() forgets the models and
  /// the count materialized so far, so that they too show what others stored since.
  result<void> reload();

  // ---- the Python Model Manager's methods
  /// Inserts or replaces (keeping the first-insert position); sets updated_at (and created_at
  /// when unset). Durable on return. An id that is not a Hub repo id ("org/name", "name",
  /// "datasets/org/name"; repo_id_problem says which rule it breaks) → invalid_argument,
  /// nothing stored. (Records read from a store or imported keep their ids as they are.)
  result<void> add_model(model_metadata m);
  /// One batch, one transaction; one invalid id refuses the whole batch.
  result<void> add_models(std::span<const model_metadata> ms);
  const model_metadata* get_model(std::string_view id) const;
  /// Errors: model_not_found, and the storage's.
  result<void> remove_model(std::string_view id);
  std::vector<const model_metadata*> list_models(const model_filter& f = {}) const;
  /// ASCII case-insensitive substring of name, description or a tag.
  std::vector<const model_metadata*> search_models(std::string_view query) const;
  std::vector<const model_metadata*> get_models_by_input_type(data_type t) const;
  std::vector<const model_metadata*> get_models_by_output_type(data_type t) const;
  std::vector<const model_metadata*> get_compatible_models(data_type in, data_type out) const;
  /// The models matching every condition `q` gives (list_models, search_models and the io-type
  /// queries in one); a queryable store selects them itself.
  std::vector<const model_metadata*> query_models(const record_query& q) const;
  std::optional<std::string> get_model_file_hash(std::string_view id, std::string_view path) const;
  /// ASCII case-insensitive substring of any file path; each model once.
  std::vector<const model_metadata*> get_models_with_file(std::string_view pattern) const;
  /// The ids of query_models' and get_models_with_file's answers. A queryable store gives
  /// them without a model materialized (a common path names most of the catalog).
  std::vector<std::string> query_model_ids(const record_query& q) const;
  std::vector<std::string> get_model_ids_with_file(std::string_view pattern) const;
  /// Fetches the model's structure again; on failure the old one stays.
  /// Errors: model_not_found, the fetcher's, the storage's.
  result<void> refresh_repository_structure(std::string_view id, std::string_view branch = "main");
  boost::asio::awaitable<result<void>> async_refresh_repository_structure(std::string_view id,
                                                                          std::string_view branch = "main");
  manager_stats get_stats() const;
  /// Writes the catalog in the JSON store layout; another format → invalid_argument.
  result<void> export_metadata(const std::filesystem::path& p, std::string_view format = "json") const;
  /// Merges a JSON store file, replacing by model_id. Errors: file_not_found, storage_corrupt.
  /// A store that writes batches (SQL) gets the file streamed, a batch of records at a time,
  /// in one transaction: memory stays bounded, and a file found bad midway changes nothing.
  result<void> import_metadata(const std::filesystem::path& p);

  // ---- beyond
  /// Refreshes every model, `options.concurrency` at a time, storing results in batches.
  /// Unchanged repositories cost one request each (the revision's commit), or less: where the
  /// catalog pins several repositories of one author at main and the fetcher lists
  /// repositories (repo_listing_fetcher), the author's listing gives their commits, at most
  /// one page of 1000 per two repositories it can answer for.
  refresh_report refresh_all(const refresh_options& options = {});
  /// Fetches each repository (a Hub repo id) at `branch` and stores it, as refresh_all does:
  /// `options.concurrency` at a time, progress reported, results stored in batches; a failure
  /// (invalid id → invalid_argument, not found, ...) is that item's outcome and the rest go on.
  /// One item per distinct id, in the order given. A model already in the catalog keeps its
  /// record and gets the fresh structure (the old one as `previous` when the commit changed);
  /// a new one is made as create_model_from_hub makes it. `changed`: new, or a new commit.
  refresh_report add_from_hub(std::span<const std::string> repo_ids, std::string_view branch = "main",
                              const refresh_options& options = {});
  const repo_structure* previous_structure(std::string_view id) const;
  /// Files whose LFS SHA-256 (64 hex) or git oid (40 hex) equals `hash`.
  std::vector<content_match> find_models_with_content(std::string_view sha256_or_oid) const;
  duplicate_report get_duplicate_report() const;
  /// Other models ranked by the mean of their path and content Jaccard indexes.
  std::vector<similar_model> get_similar_models(std::string_view id, std::size_t limit = 10) const;

  std::size_t size() const noexcept;

  /// A query the store answered (queried mode) that failed — get_model, get_stats and the
  /// list queries have no error channel, so they answer "nothing" and the cause stays here
  /// until the next query fails or clear_query_error(). Resident mode never sets it.
  error_code query_error() const noexcept { return materialized_.error; }
  void clear_query_error() noexcept { materialized_.error = {}; }

private:
  /// Whether the store answers the queries itself (queryable_storage): nothing is loaded on
  /// open, results are materialized on demand, writes go straight to the store.
  static constexpr bool queried = queryable_storage<Storage>;
  struct no_init_t {};
  model_manager(no_init_t, Storage s, Fetcher f) : storage_(std::move(s)), fetcher_(std::move(f)) {}
  result<void> init(diagnostics* why = nullptr);
  void replace_all(std::vector<model_metadata> ms);
  void put(model_metadata m);
  void index_slot(std::uint32_t slot);
  void unindex_slot(std::uint32_t slot);
  void compact_slots();
  std::size_t position(std::string_view id) const;
  /// The model with a fresh structure; keeps the old one as `previous` when the commit changed,
  /// and fills what the record does not say from the model info (apply_model_info).
  static model_metadata with_fetched(model_metadata m, fetched_model f, bool& changed);
  /// The structure with the model info, when the fetcher gives it.
  boost::asio::awaitable<result<fetched_model>> fetch_model(std::string repo, std::string branch);
  static model_pin pin_of(const model_metadata& m);
  /// The Hub repository a pinned model is fetched from.
  static std::string repo_of(const model_pin& pin);
  result<std::vector<model_pin>> pins() const;
  std::size_t requests_so_far() const;  ///< the fetcher's request count, when it keeps one
  /// refresh_all's engine: `options.concurrency` workers over report.items on one io_context;
  /// co_await one(item) gives the model to store, if any (failures go in the item); models are
  /// stored in batches (100, or every 2 s), progress reported after each item.
  template <class One>
  void run_batch(refresh_report& report, const refresh_options& options, One one);
  /// Commits of the pinned repositories from their authors' listings (repo_listing_fetcher),
  /// keyed by the repo id as the catalog spells it; empty when listing cannot save requests.
  std::unordered_map<std::string, std::string> listed_commits(const std::vector<model_pin>& pins,
                                                              const refresh_options& options);
  /// A copy of the stored model, materializing nothing (refresh_all's workers).
  result<std::optional<model_metadata>> stored_copy(std::string_view id) const;
  /// Calls f(const model_metadata&) for every model in catalog order (queried mode: all of
  /// them materialized first). Errors: the store's.
  template <class F>
  result<void> for_each_model(F f) const;

  // Queried mode: models materialized from the store by the queries that named them.
  const model_metadata* keep(model_metadata m) const;  ///< with the mutex held
  std::vector<const model_metadata*> materialize(const std::vector<std::string>& ids) const;  ///< the same
  result<const std::vector<const model_metadata*>*> everything() const;
  result<const std::vector<const model_metadata*>*> load_everything() const;  ///< with the mutex held
  error_code noted_error(error_code e) const {
    materialized_.error = e;
    return e;
  }
  template <class T>
  T noted(result<T> r, T otherwise) const;  ///< the value, or `otherwise` with the error noted

  mutable Storage storage_;  // mutable: a queried store answers const queries
  Fetcher fetcher_;
  bool open_ = false;
  std::vector<std::unique_ptr<model_metadata>> models_;  ///< by slot, first-insert order; null = removed
  std::size_t live_ = 0;
  detail::id_index index_;  ///< model_id → slot
  auto id_of() const noexcept {
    return [this](std::uint32_t slot) -> std::string_view { return models_[slot]->model_id; };
  }
  // Path and content indexes: the first path or content query scans the catalog (a process
  // that asks one question does not pay for an index it cannot amortize); the second builds
  // them (call_once keeps that safe for concurrent readers), then every mutation keeps them
  // current.
  bool first_indexed_query() const noexcept { return index_queries_.fetch_add(1, std::memory_order_relaxed) == 0; }
  void ensure_indexes() const;
  const repo_structure* structure_in(std::size_t slot) const noexcept {
    return models_[slot] && models_[slot]->repository_structure ? &*models_[slot]->repository_structure : nullptr;
  }
  mutable std::unique_ptr<std::once_flag> indexes_once_ = std::make_unique<std::once_flag>();
  mutable bool indexed_ = false;
  mutable detail::path_index paths_;
  mutable detail::content_index contents_;
  mutable std::atomic<std::size_t> index_queries_{0};  ///< path and content queries so far
  mutable detail::materialized_models materialized_;   ///< queried mode only
};

using offline_model_manager = model_manager<memory_storage, mock_fetcher>;
using json_model_manager = model_manager<json_file_storage, mock_fetcher>;

}  // namespace hfmm

#include <hfmm/impl/manager.ipp>
