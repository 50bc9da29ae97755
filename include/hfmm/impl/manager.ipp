#pragma once
// Bodies of <hfmm/manager.hpp>.

#include <hfmm/detail/pipeline.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <set>

namespace hfmm {

#if HFMM_DEFINE_BODIES
HFMM_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const manager_stats& s) {
  auto& o = jv.emplace_object();
  o["total_models"] = s.total_models;
  if (s.total_models == 0) return;  // the Python Model Manager's shape for an empty catalog
  auto counts = [](const std::map<std::string, std::size_t>& m) {
    boost::json::object c;
    for (const auto& [k, v] : m) c[k] = v;
    return c;
  };
  o["models_by_type"] = counts(s.models_by_type);
  o["models_by_architecture"] = counts(s.models_by_architecture);
  o["common_input_types"] = counts(s.common_input_types);
  o["common_output_types"] = counts(s.common_output_types);
  o["models_with_hf_config"] = s.models_with_hf_config;
  o["models_with_inference_code"] = s.models_with_inference_code;
  o["models_with_repo_structure"] = s.models_with_repo_structure;
  o["total_tracked_files"] = s.total_tracked_files;
  o["total_tracked_bytes"] = s.total_tracked_bytes;
}

HFMM_DECL result<manager_stats> tag_invoke(boost::json::try_value_to_tag<manager_stats>, const boost::json::value& jv) {
  if (!jv.is_object()) return errc::invalid_argument;
  const auto& o = jv.get_object();
  manager_stats s;
  auto number = [&](const char* key, auto& out) {
    if (auto* v = o.if_contains(key)) {
      auto n = detail::store_reader::to_unsigned(*v);
      if (!n) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
    }
    return true;
  };
  auto counts = [&](const char* key, std::map<std::string, std::size_t>& out) {
    auto* v = o.if_contains(key);
    if (!v) return true;
    if (!v->is_object()) return false;
    for (const auto& kv : v->get_object()) {
      auto n = detail::store_reader::to_unsigned(kv.value());
      if (!n) return false;
      out[std::string(kv.key())] = *n;
    }
    return true;
  };
  if (!number("total_models", s.total_models) || !counts("models_by_type", s.models_by_type) ||
      !counts("models_by_architecture", s.models_by_architecture) ||
      !counts("common_input_types", s.common_input_types) || !counts("common_output_types", s.common_output_types) ||
      !number("models_with_hf_config", s.models_with_hf_config) ||
      !number("models_with_inference_code", s.models_with_inference_code) ||
      !number("models_with_repo_structure", s.models_with_repo_structure) ||
      !number("total_tracked_files", s.total_tracked_files) || !number("total_tracked_bytes", s.total_tracked_bytes))
    return errc::invalid_argument;
  return s;
}
#endif  // HFMM_DEFINE_BODIES

// ---- lifetime

template <hfmm::storage S, hfmm::fetcher F>
model_manager<S, F>::model_manager(S s, F f) : storage_(std::move(s)), fetcher_(std::move(f)) {
  diagnostics why;
  if (auto ok = init(&why); !ok)
    throw boost::system::system_error(ok.error(), "hfmm: cannot open the model store" + (why.empty() ? "" : ": " + why.message()));
}

template <hfmm::storage S, hfmm::fetcher F>
result<model_manager<S, F>> model_manager<S, F>::open(S s, F f) {
  model_manager m(no_init_t{}, std::move(s), std::move(f));
  if (auto ok = m.init(); !ok) return ok.error();
  return m;
}

template <hfmm::storage S, hfmm::fetcher F>
result<model_manager<S, F>> model_manager<S, F>::open(S s, F f, diagnostics& why) {
  why.clear();
  model_manager m(no_init_t{}, std::move(s), std::move(f));
  if (auto ok = m.init(&why); !ok) return ok.error();
  return m;
}

template <hfmm::storage S, hfmm::fetcher F>
model_manager<S, F>::model_manager(model_manager&& o) noexcept
    : storage_(std::move(o.storage_)), fetcher_(std::move(o.fetcher_)), open_(std::exchange(o.open_, false)),
      models_(std::move(o.models_)), live_(std::exchange(o.live_, 0)), index_(std::move(o.index_)),
      indexes_once_(std::exchange(o.indexes_once_, std::make_unique<std::once_flag>())),
      indexed_(std::exchange(o.indexed_, false)), paths_(std::move(o.paths_)), contents_(std::move(o.contents_)),
      index_queries_(o.index_queries_.exchange(0)), materialized_(std::move(o.materialized_)) {}

template <hfmm::storage S, hfmm::fetcher F>
model_manager<S, F>& model_manager<S, F>::operator=(model_manager&& o) noexcept {
  if (this != &o) {
    (void)close();
    storage_ = std::move(o.storage_);
    fetcher_ = std::move(o.fetcher_);
    open_ = std::exchange(o.open_, false);
    models_ = std::move(o.models_);
    live_ = std::exchange(o.live_, 0);
    index_ = std::move(o.index_);
    indexes_once_ = std::exchange(o.indexes_once_, std::make_unique<std::once_flag>());
    indexed_ = std::exchange(o.indexed_, false);
    paths_ = std::move(o.paths_);
    contents_ = std::move(o.contents_);
    index_queries_ = o.index_queries_.exchange(0);
    materialized_ = std::move(o.materialized_);
  }
  return *this;
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::init(diagnostics* why) {
  auto explain = [&] {
    if constexpr (requires { storage_.error_detail(); })
      if (why) why->assign(std::string(storage_.error_detail()));
  };
  if (auto ok = storage_.open(); !ok) return explain(), ok.error();
  if constexpr (queried) {  // nothing to load: the store answers each question
    open_ = true;
    return {};
  }
  auto loaded = storage_.load();
  if (!loaded) {
    explain();
    (void)storage_.close();
    return loaded.error();
  }
  open_ = true;
  replace_all(std::move(*loaded));
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::close() {
  if (!open_) return {};
  open_ = false;
  return storage_.close();
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::reload() {
  if constexpr (queried) {  // the next questions see what the store holds now
    materialized_.forget();
    return {};
  }
  result<std::vector<model_metadata>> loaded;
  if constexpr (reloadable_storage<S>) loaded = storage_.reload();
  else loaded = storage_.load();
  if (!loaded) return loaded.error();
  replace_all(std::move(*loaded));
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::replace_all(std::vector<model_metadata> ms) {
  models_.clear();
  index_.clear();
  paths_.clear();
  contents_.clear();
  indexes_once_ = std::make_unique<std::once_flag>();
  indexed_ = false;
  index_queries_ = 0;
  live_ = 0;
  models_.reserve(ms.size());
  index_.reserve(ms.size(), id_of());
  for (auto& m : ms) put(std::move(m));
}

template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::ensure_indexes() const {
  std::call_once(*indexes_once_, [this] {
    for (std::size_t slot = 0; slot < models_.size(); ++slot)
      if (models_[slot] && models_[slot]->repository_structure) {
        paths_.add(static_cast<std::uint32_t>(slot), *models_[slot]->repository_structure);
        contents_.add(static_cast<std::uint32_t>(slot), *models_[slot]->repository_structure);
      }
    indexed_ = true;
  });
}

template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::index_slot(std::uint32_t slot) {
  if (!indexed_) return;  // built on first use
  if (const auto& s = models_[slot]->repository_structure) {
    paths_.add(slot, *s);
    contents_.add(slot, *s);
  }
}

template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::unindex_slot(std::uint32_t slot) {
  if (!indexed_) return;
  if (const auto& s = models_[slot]->repository_structure) {
    paths_.remove(slot, *s);
    contents_.remove(slot, *s);
  }
}

template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::put(model_metadata m) {
  if constexpr (queried) {  // the store has it already; what was materialized may be stale
    (void)m;
    materialized_.forget();
    return;
  }
  auto slot = index_.find(m.model_id, id_of());
  if (slot == detail::id_index::none) {
    index_.reserve(1, id_of());
    models_.push_back(std::make_unique<model_metadata>(std::move(m)));
    slot = static_cast<std::uint32_t>(models_.size() - 1);
    index_.insert(models_[slot]->model_id, slot);
    ++live_;
  } else {
    unindex_slot(slot);
    *models_[slot] = std::move(m);
  }
  index_slot(slot);
}

/// Renumbers the slots once removals left more holes than models.
template <hfmm::storage S, hfmm::fetcher F>
void model_manager<S, F>::compact_slots() {
  std::vector<model_metadata> kept;
  kept.reserve(live_);
  for (auto& m : models_)
    if (m) kept.push_back(std::move(*m));
  replace_all(std::move(kept));
}

template <hfmm::storage S, hfmm::fetcher F>
std::size_t model_manager<S, F>::position(std::string_view id) const {
  auto slot = index_.find(id, id_of());
  return slot == detail::id_index::none ? static_cast<std::size_t>(-1) : slot;
}

// ---- the Python Model Manager's methods

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::add_model(model_metadata m) {
  if (!repo_id_problem(m.model_id).empty()) return errc::invalid_argument;
  auto t = now();
  if (m.created_at == timestamp{}) m.created_at = t;
  m.updated_at = t;
  if (auto ok = storage_.upsert(m); !ok) return ok.error();
  put(std::move(m));
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::add_models(std::span<const model_metadata> ms) {
  std::vector<model_metadata> batch(ms.begin(), ms.end());
  auto t = now();
  for (auto& m : batch) {
    if (!repo_id_problem(m.model_id).empty()) return errc::invalid_argument;
    if (m.created_at == timestamp{}) m.created_at = t;
    m.updated_at = t;
  }
  if (auto ok = storage_.upsert_many(batch); !ok) return ok.error();
  for (auto& m : batch) put(std::move(m));
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
const model_metadata* model_manager<S, F>::get_model(std::string_view id) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    if (auto it = materialized_.by_id.find(id); it != materialized_.by_id.end()) return it->second.get();
    auto found = noted(storage_.find_model(id), std::optional<model_metadata>());
    return found ? keep(std::move(*found)) : nullptr;
  }
  auto pos = position(id);
  return pos < models_.size() ? models_[pos].get() : nullptr;
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::remove_model(std::string_view id) {
  if constexpr (queried) {
    auto stored = storage_.contains(id);
    if (!stored) return stored.error();
    if (!*stored) return errc::model_not_found;
    if (auto ok = storage_.erase(id); !ok) return ok.error();
    materialized_.forget();
    return {};
  }
  auto pos = position(id);
  if (pos >= models_.size()) return errc::model_not_found;
  if (auto ok = storage_.erase(id); !ok) return ok.error();
  unindex_slot(static_cast<std::uint32_t>(pos));
  index_.erase(id, id_of());
  models_[pos].reset();
  --live_;
  if (models_.size() > 1024 && models_.size() - live_ > live_) compact_slots();
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
template <class Fn>
result<void> model_manager<S, F>::for_each_model(Fn f) const {
  if constexpr (queried) {
    auto all = everything();
    if (!all) return all.error();
    for (const auto* m : **all) f(*m);
  } else {
    for (const auto& m : models_)
      if (m) f(*m);
  }
  return {};
}

template <hfmm::storage S, hfmm::fetcher F>
const model_metadata* model_manager<S, F>::keep(model_metadata m) const {
  auto [it, inserted] = materialized_.by_id.try_emplace(m.model_id);
  if (inserted) it->second = std::make_unique<model_metadata>(std::move(m));
  return it->second.get();
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::materialize(const std::vector<std::string>& ids) const {
  std::vector<std::string> missing;
  for (const auto& id : ids)
    if (!materialized_.by_id.contains(id)) missing.push_back(id);
  if constexpr (queried) {
    constexpr std::size_t batch = 2048;  // bounds one statement's parameter
    // A result naming a large part of the catalog: one sequential read costs less than
    // index look-ups by the thousand (and the whole catalog is what the caller gets).
    if (missing.size() > batch && !materialized_.all) {
      if (!materialized_.count)
        if (auto n = storage_.model_count()) materialized_.count = *n;
      if (materialized_.count && missing.size() * 4 > *materialized_.count) {
        (void)load_everything();
        missing.clear();
      }
    }
    for (std::size_t i = 0; i < missing.size(); i += batch) {
      auto n = std::min(batch, missing.size() - i);
      auto found = noted(storage_.find_models(std::span<const std::string>(missing).subspan(i, n)), std::vector<model_metadata>());
      for (auto& m : found) keep(std::move(m));
    }
  }
  std::vector<const model_metadata*> out;
  out.reserve(ids.size());
  for (const auto& id : ids)
    if (auto it = materialized_.by_id.find(id); it != materialized_.by_id.end()) out.push_back(it->second.get());
  return out;
}

template <hfmm::storage S, hfmm::fetcher F>
result<const std::vector<const model_metadata*>*> model_manager<S, F>::everything() const {
  std::lock_guard lock(*materialized_.mutex);
  return load_everything();
}

template <hfmm::storage S, hfmm::fetcher F>
result<const std::vector<const model_metadata*>*> model_manager<S, F>::load_everything() const {
  if (!materialized_.all) {
    auto loaded = storage_.load();
    if (!loaded) return noted_error(loaded.error());
    std::vector<const model_metadata*> all;
    all.reserve(loaded->size());
    for (auto& m : *loaded) all.push_back(keep(std::move(m)));
    materialized_.all = std::move(all);
  }
  return &*materialized_.all;
}

template <hfmm::storage S, hfmm::fetcher F>
template <class T>
T model_manager<S, F>::noted(result<T> r, T otherwise) const {
  if (r) return std::move(*r);
  noted_error(r.error());
  return otherwise;
}

template <hfmm::storage S, hfmm::fetcher F>
std::size_t model_manager<S, F>::size() const noexcept {
  if constexpr (queried) {
    try {
      std::lock_guard lock(*materialized_.mutex);
      if (!materialized_.count) {
        auto n = storage_.model_count();
        if (!n) {
          noted_error(n.error());
          return 0;
        }
        materialized_.count = *n;
      }
      return *materialized_.count;
    } catch (...) {  // size() cannot report it: 0, as for a failed count
      return 0;
    }
  }
  return live_;
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::query_models(const record_query& q) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    return materialize(noted(storage_.models_matching(q), std::vector<std::string>()));
  }
  std::vector<const model_metadata*> out;
  auto folded_text = detail::to_lower_ascii(q.text);
  auto ok = for_each_model([&](const model_metadata& m) {
    if (q.matches(m, folded_text)) out.push_back(&m);
  });
  if (!ok) noted_error(ok.error());
  return out;
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::list_models(const model_filter& f) const {
  record_query q;
  q.filter = f;
  return query_models(q);
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::search_models(std::string_view query) const {
  record_query q;
  q.text = query;
  return query_models(q);
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::get_models_by_input_type(data_type t) const {
  record_query q;
  q.input = t;
  return query_models(q);
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::get_models_by_output_type(data_type t) const {
  record_query q;
  q.output = t;
  return query_models(q);
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::get_compatible_models(data_type in, data_type out) const {
  record_query q;
  q.input = in;
  q.output = out;
  return query_models(q);
}

template <hfmm::storage S, hfmm::fetcher F>
std::optional<std::string> model_manager<S, F>::get_model_file_hash(std::string_view id, std::string_view path) const {
  const auto* m = get_model(id);
  return m ? get_file_hash_from_structure(m->repository_structure, path) : std::nullopt;
}

namespace detail {
inline std::vector<std::string> ids_of(const std::vector<const model_metadata*>& models) {
  std::vector<std::string> ids;
  ids.reserve(models.size());
  for (const auto* m : models) ids.push_back(m->model_id);
  return ids;
}
}  // namespace detail

template <hfmm::storage S, hfmm::fetcher F>
std::vector<std::string> model_manager<S, F>::query_model_ids(const record_query& q) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);  // the store's one connection, and the error noted
    return noted(storage_.models_matching(q), std::vector<std::string>());
  }
  return detail::ids_of(query_models(q));
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<std::string> model_manager<S, F>::get_model_ids_with_file(std::string_view pattern) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);  // the store's one connection, and the error noted
    return noted(storage_.models_with_path(pattern), std::vector<std::string>());
  }
  return detail::ids_of(get_models_with_file(pattern));
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<const model_metadata*> model_manager<S, F>::get_models_with_file(std::string_view pattern) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    return materialize(noted(storage_.models_with_path(pattern), std::vector<std::string>()));
  }
  auto q = detail::to_lower_ascii(pattern);
  std::vector<const model_metadata*> out;
  if (first_indexed_query()) {
    detail::scan_path_matches([this](std::size_t slot) { return structure_in(slot); }, models_.size(), q,
                              [&](std::uint32_t slot) { out.push_back(models_[slot].get()); });
    return out;
  }
  ensure_indexes();
  if (auto* exact = paths_.exact(q); exact && paths_.unique_match(q)) {
    // the path occurs in no other path: its postings are the answer, in order
    exact->for_each([&](std::uint32_t slot) {
      if (models_[slot]) out.push_back(models_[slot].get());
    });
    return out;
  }
  std::vector<std::uint8_t> hit(models_.size(), 0);
  std::size_t hits = 0;
  paths_.for_each_match(q, [&](std::uint32_t slot) { hits += !std::exchange(hit[slot], 1); });
  out.reserve(hits);
  for (std::size_t slot = 0; slot < hit.size() && out.size() < hits; ++slot)
    if (hit[slot] && models_[slot]) out.push_back(models_[slot].get());
  return out;
}

template <hfmm::storage S, hfmm::fetcher F>
model_pin model_manager<S, F>::pin_of(const model_metadata& m) {
  model_pin pin;
  pin.model_id = m.model_id;
  if (const auto& s = m.repository_structure) {
    pin.has_structure = true;
    pin.type = s->repo_type;
    pin.repo_id = s->model_id;
    pin.branch = s->branch;
    pin.commit_sha = s->commit_sha;
  }
  return pin;
}

template <hfmm::storage S, hfmm::fetcher F>
std::string model_manager<S, F>::repo_of(const model_pin& pin) {
  if (pin.has_structure && !pin.repo_id.empty()) return detail::display_id({pin.type, pin.repo_id});
  return pin.model_id;
}

template <hfmm::storage S, hfmm::fetcher F>
result<std::vector<model_pin>> model_manager<S, F>::pins() const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    return storage_.model_pins();
  } else {
    std::vector<model_pin> out;
    out.reserve(live_);
    for (const auto& m : models_)
      if (m) out.push_back(pin_of(*m));
    return out;
  }
}

template <hfmm::storage S, hfmm::fetcher F>
result<std::optional<model_metadata>> model_manager<S, F>::stored_copy(std::string_view id) const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    return storage_.find_model(id);
  } else {
    const auto* m = get_model(id);
    return m ? std::optional<model_metadata>(*m) : std::nullopt;
  }
}

template <hfmm::storage S, hfmm::fetcher F>
boost::asio::awaitable<result<fetched_model>> model_manager<S, F>::fetch_model(std::string repo, std::string branch) {
  if constexpr (model_info_fetcher<F>) {
    co_return co_await fetcher_.async_fetch_model(repo, branch);
  } else {
    auto s = co_await fetcher_.async_fetch_structure(repo, branch);
    if (!s) co_return s.error();
    fetched_model fetched;
    fetched.structure = std::move(*s);
    co_return fetched;
  }
}

template <hfmm::storage S, hfmm::fetcher F>
model_metadata model_manager<S, F>::with_fetched(model_metadata m, fetched_model f, bool& changed) {
  model_metadata updated = std::move(m);
  apply_model_info(updated, f);
  repo_structure& s = f.structure;
  const auto& old = updated.repository_structure;
  if (!old) {
    changed = true;
  } else {
    bool same_commit = !s.commit_sha.empty() && s.commit_sha == old->commit_sha;
    changed = !(same_commit || (s.commit_sha.empty() && old->commit_sha.empty() && s.files == old->files));
    if (changed) {
      auto prev = std::make_shared<repo_structure>(*old);
      prev->previous.reset();  // one level of history
      s.previous = std::move(prev);
    } else {
      s.previous = old->previous;
    }
  }
  updated.repository_structure = std::move(s);
  updated.updated_at = now();
  return updated;
}

template <hfmm::storage S, hfmm::fetcher F>
boost::asio::awaitable<result<void>> model_manager<S, F>::async_refresh_repository_structure(std::string_view id,
                                                                                             std::string_view branch) {
  // Copies first: the caller's views may not outlive the first suspension.
  std::string model_id(id), rev(branch);
  const auto* m = get_model(model_id);
  if (!m) co_return errc::model_not_found;
  auto fetched = co_await fetch_model(repo_of(pin_of(*m)), rev);
  if (!fetched) co_return fetched.error();
  m = get_model(model_id);  // the catalog may have changed while we waited
  if (!m) co_return errc::model_not_found;
  bool changed = false;
  auto updated = with_fetched(*m, std::move(*fetched), changed);
  if (auto ok = storage_.upsert(updated); !ok) co_return ok.error();
  put(std::move(updated));
  co_return result<void>{};
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::refresh_repository_structure(std::string_view id, std::string_view branch) {
  return detail::run_blocking(async_refresh_repository_structure(id, branch));
}

template <hfmm::storage S, hfmm::fetcher F>
manager_stats model_manager<S, F>::get_stats() const {
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    return noted(storage_.stats(), manager_stats());
  }
  manager_stats s;
  s.total_models = live_;
  (void)for_each_model([&](const model_metadata& m) {
    ++s.models_by_type[std::string(to_string(m.model_type))];
    ++s.models_by_architecture[m.architecture];
    for (const auto& i : m.inputs) ++s.common_input_types[std::string(to_string(i.data_type))];
    for (const auto& o : m.outputs) ++s.common_output_types[std::string(to_string(o.data_type))];
    s.models_with_hf_config += m.huggingface_config.has_value();
    s.models_with_inference_code += m.inference_code_location.has_value();
    if (m.repository_structure) {
      ++s.models_with_repo_structure;
      s.total_tracked_files += m.repository_structure->total_files();
      s.total_tracked_bytes += m.repository_structure->total_size();
    }
  });
  return s;
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::export_metadata(const std::filesystem::path& p, std::string_view format) const {
  if (format != "json") return errc::invalid_argument;
  // Written record by record into the temp file: the export holds a piece of its text and, from
  // a store that reads batches, one batch of models, never the catalog (100 000 models from
  // DuckDB took 4.6 GB as one document). A failure midway leaves `p` as it was.
  auto file = detail::atomic_file_writer::create(p);
  if (!file) return file.error();
  detail::catalog_text out;
  result<void> ok;
  auto put = [&](const model_metadata& m) {
    if (!ok || !(ok = detail::check_writable(m))) return;
    boost::json::value record;
    detail::write_model_record(record.emplace_object(), m);
    if (out.add(m.model_id, record)) {
      if (!file->write(out.text())) ok = errc::storage_io;
      out.text().clear();
    }
  };
  result<void> read;
  if constexpr (queried && batch_reading_storage<S>) {
    read = storage_.read_batches([&](std::span<const model_metadata> batch) -> result<void> {
      for (const auto& m : batch) put(m);
      return ok;
    });
  } else {
    read = for_each_model(put);
  }
  if (!read) return read;
  if (!ok) return ok;
  out.finish();
  file->write(out.text());
  return file->commit();
}

template <hfmm::storage S, hfmm::fetcher F>
result<void> model_manager<S, F>::import_metadata(const std::filesystem::path& p) {
  if constexpr (queried && batch_writing_storage<S>) {
    // Streamed: a batch of records at a time, all in one transaction of the store. The next
    // batch is parsed on another thread while the store writes this one.
    materialized_.forget();
    using batch_type = std::vector<model_metadata>;
    return storage_.upsert_batches([&](const batch_writer& write) -> result<void> {
      auto parse = [&](auto put) -> result<void> {
        constexpr std::size_t batch_files = 50000, batch_models = 4096;
        batch_type batch;
        std::size_t files = 0;
        auto parsed = detail::for_each_catalog_record(p, [&](model_metadata&& m) -> result<void> {
          files += m.repository_structure ? m.repository_structure->files.size() : 0;
          batch.push_back(std::move(m));
          if (files < batch_files && batch.size() < batch_models) return {};
          files = 0;
          return put(std::exchange(batch, {}));
        }, nullptr);
        if (!parsed) return parsed;
        return put(std::move(batch));
      };
      return detail::run_pipelined<batch_type>(parse, [&](batch_type&& batch) { return write(batch); });
    });
  }
  auto batch = detail::read_catalog_file(p, nullptr);  // the store's own reader
  if (!batch) return batch.error();
  // Imported records keep their own times: write them as they are.
  if (auto ok = storage_.upsert_many(*batch); !ok) return ok.error();
  for (auto& m : *batch) put(std::move(m));
  return {};
}

// ---- beyond

template <hfmm::storage S, hfmm::fetcher F>
std::size_t model_manager<S, F>::requests_so_far() const {
  if constexpr (counting_fetcher<F>) return fetcher_.requests();
  else return 0;
}

template <hfmm::storage S, hfmm::fetcher F>
template <class One>
void model_manager<S, F>::run_batch(refresh_report& report, const refresh_options& options, One one) {
  namespace asio = boost::asio;
  const std::size_t total = report.items.size();
  std::size_t next = 0, done = 0;
  auto started = std::chrono::steady_clock::now();
  auto last_flush = started;
  std::vector<std::size_t> pending;  // items whose model is not stored yet
  std::vector<model_metadata> pending_models;

  auto flush = [&] {
    if (pending.empty()) return;
    auto ok = storage_.upsert_many(pending_models);
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (ok) put(std::move(pending_models[i]));
      else report.items[pending[i]].outcome = ok.error(), report.items[pending[i]].changed = false;
    }
    pending.clear();
    pending_models.clear();
    last_flush = std::chrono::steady_clock::now();
  };

  auto worker = [&]() -> asio::awaitable<void> {
    while (next < total && !options.stop.stop_requested()) {
      auto item = next++;
      if (auto model = co_await one(item)) {
        pending.push_back(item);
        pending_models.push_back(std::move(*model));
      }
      ++done;
      if (pending.size() >= 100 || std::chrono::steady_clock::now() - last_flush >= std::chrono::seconds(2)) flush();
      if (options.on_progress) {
        refresh_progress p{done, total, report.items[item].model_id, std::nullopt};
        auto elapsed = std::chrono::steady_clock::now() - started;
        p.eta = std::chrono::duration_cast<std::chrono::seconds>(elapsed * (total - done) / done);
        options.on_progress(p);
      }
    }
  };

  detail::run_workers(std::max<std::size_t>(1, std::min(options.concurrency, total)), worker);
  flush();
  for (std::size_t i = next; i < total; ++i) report.items[i].outcome = asio::error::operation_aborted;
}

template <hfmm::storage S, hfmm::fetcher F>
std::unordered_map<std::string, std::string> model_manager<S, F>::listed_commits(const std::vector<model_pin>& pins,
                                                                                 const refresh_options& options) {
  std::unordered_map<std::string, std::string> commits;  // repo id as the catalog spells it → commit
  if constexpr (repo_listing_fetcher<F>) {
    namespace asio = boost::asio;
    std::map<std::pair<repo_type, std::string>, std::size_t> pinned_by_author;
    for (const auto& pin : pins) {
      // A listing gives the default branch's commit: it answers for repositories pinned at main.
      if (pin.commit_sha.empty() || pin.branch != "main") continue;
      auto ref = detail::parse_repo_id(repo_of(pin));
      auto slash = ref ? ref->id.find('/') : std::string::npos;
      if (slash != std::string::npos) ++pinned_by_author[{ref->type, ref->id.substr(0, slash)}];
    }
    std::vector<repo_listing_query> queries;
    for (const auto& [author, pinned] : pinned_by_author) {
      if (pinned < 2) continue;  // one repository: its own request costs no more
      repo_listing_query q;
      q.repo_type = author.first;
      q.author = author.second;
      // Pages of 1000, at most half as many pages as the requests they can save: when the
      // author has more repositories than that, the ones not seen get their own request.
      q.limit = 1000 * std::max<std::size_t>(1, pinned / 2);
      queries.push_back(std::move(q));
    }
    std::size_t next = 0;
    auto worker = [&]() -> asio::awaitable<void> {
      while (next < queries.size() && !options.stop.stop_requested()) {
        auto listed = co_await fetcher_.async_list_repos(queries[next++]);
        if (!listed) continue;  // the repositories' own requests stand in for a failed listing
        for (auto& r : *listed)
          if (!r.sha.empty()) commits.emplace(std::move(r.id), std::move(r.sha));
      }
    };
    detail::run_workers(std::min(std::max<std::size_t>(1, options.concurrency), queries.size()), worker);
  }
  return commits;
}

template <hfmm::storage S, hfmm::fetcher F>
refresh_report model_manager<S, F>::refresh_all(const refresh_options& options) {
  namespace asio = boost::asio;
  refresh_report report{{}, 0};
  auto pinned = pins();  // ids, repositories and commits: no files read
  if (!pinned) {
    noted_error(pinned.error());
    return report;
  }
  const auto& ids = *pinned;
  report.items.reserve(ids.size());
  for (const auto& pin : ids) report.items.push_back({pin.model_id, result<void>{}, false});
  auto requests_before = requests_so_far();
  auto listed = options.only_changed ? listed_commits(ids, options) : std::unordered_map<std::string, std::string>();

  run_batch(report, options, [&](std::size_t item) -> asio::awaitable<std::optional<model_metadata>> {
    auto& it = report.items[item];
    const auto& pin = ids[item];
    std::string repo = repo_of(pin);
    std::string branch = pin.has_structure ? pin.branch : "main";
    const std::string& known_sha = pin.commit_sha;
    if (options.only_changed && !known_sha.empty()) {
      if (auto at = listed.find(repo); at != listed.end() && branch == "main") {
        if (at->second == known_sha) co_return std::nullopt;  // unchanged, as its author's listing says
      } else if constexpr (revision_resolving_fetcher<F>) {
        auto sha = co_await fetcher_.async_resolve_revision(repo, branch);
        if (!sha) {
          it.outcome = sha.error();
          co_return std::nullopt;
        }
        if (*sha == known_sha) co_return std::nullopt;  // unchanged: no listing needed
      }
    }
    auto fetched = co_await fetch_model(repo, branch);
    if (!fetched) {
      it.outcome = fetched.error();
      co_return std::nullopt;
    }
    auto current = stored_copy(it.model_id);  // as stored now: the catalog may have changed while we waited
    if (!current || !*current) {
      it.outcome = current ? error_code(errc::model_not_found) : current.error();
      co_return std::nullopt;
    }
    bool changed = false;
    auto updated = with_fetched(std::move(**current), std::move(*fetched), changed);
    it.changed = changed;
    co_return updated;
  });
  report.requests = requests_so_far() - requests_before;
  return report;
}

template <hfmm::storage S, hfmm::fetcher F>
refresh_report model_manager<S, F>::add_from_hub(std::span<const std::string> repo_ids, std::string_view branch,
                                                 const refresh_options& options) {
  namespace asio = boost::asio;
  refresh_report report{{}, 0};
  std::unordered_set<std::string_view> seen;
  for (const auto& id : repo_ids)
    if (seen.insert(id).second) report.items.push_back({id, result<void>{}, false});
  auto requests_before = requests_so_far();
  const std::string revision(branch);

  run_batch(report, options, [&](std::size_t item) -> asio::awaitable<std::optional<model_metadata>> {
    auto& it = report.items[item];
    const std::string& id = it.model_id;
    if (!repo_id_problem(id).empty()) {
      it.outcome = errc::invalid_argument;
      co_return std::nullopt;
    }
    auto fetched = co_await fetch_model(id, revision);
    if (!fetched) {
      it.outcome = fetched.error();
      co_return std::nullopt;
    }
    auto current = stored_copy(id);  // a model already in the catalog keeps its record
    if (!current) {
      it.outcome = current.error();
      co_return std::nullopt;
    }
    if (*current) {
      bool changed = false;
      auto updated = with_fetched(std::move(**current), std::move(*fetched), changed);
      it.changed = changed;
      co_return updated;
    }
    create_options options;
    options.branch = revision;
    auto made = detail::make_model_from_config(id, {}, options, detail::endpoint_of(fetcher_));
    detail::fill_from_hub(made, *fetched, true);
    made.repository_structure = std::move(fetched->structure);
    made.created_at = made.updated_at = now();
    it.changed = true;
    co_return made;
  });
  report.requests = requests_so_far() - requests_before;
  return report;
}

template <hfmm::storage S, hfmm::fetcher F>
const repo_structure* model_manager<S, F>::previous_structure(std::string_view id) const {
  const auto* m = get_model(id);
  return m && m->repository_structure ? m->repository_structure->previous.get() : nullptr;
}

template <hfmm::storage S, hfmm::fetcher F>
std::vector<content_match> model_manager<S, F>::find_models_with_content(std::string_view hash) const {
  std::vector<content_match> out;
  bool sha256 = detail::is_lower_hex(hash, 64);
  if (!sha256 && !detail::is_lower_hex(hash, 40)) return out;
  if constexpr (queried) {
    std::lock_guard lock(*materialized_.mutex);
    auto files = noted(storage_.files_with_content(hash), std::vector<stored_path>());
    std::vector<std::string> ids;
    for (const auto& f : files)
      if (ids.empty() || ids.back() != f.model_id) ids.push_back(f.model_id);
    std::unordered_map<std::string_view, const model_metadata*> by_id;
    for (const auto* m : materialize(ids)) by_id.emplace(m->model_id, m);
    for (auto& f : files)
      if (auto it = by_id.find(f.model_id); it != by_id.end()) out.push_back({it->second, std::move(f.path)});
    return out;
  }
  auto key = *detail::hex_prefix32(hash);
  auto collect = [&](std::uint32_t slot) {
    const auto* s = structure_in(slot);
    if (!s) return;
    for (std::size_t i = 0; i < s->files.size(); ++i) {
      // the stored digest's prefix first: hex strings only for the few files that may match
      auto prefix = sha256 ? detail::file_table_access::sha256_prefix32(s->files, i)
                           : detail::file_table_access::oid_prefix32(s->files, i);
      if (prefix != key) continue;
      auto f = s->files[i];
      bool hit = sha256 ? (f.is_lfs() && f.lfs()->sha256 == hash) : f.oid() == hash;
      if (hit) out.push_back({models_[slot].get(), std::string(f.path())});
    }
  };
  if (first_indexed_query()) {  // one question: a scan of the stored digests
    for (std::size_t slot = 0; slot < models_.size(); ++slot) collect(static_cast<std::uint32_t>(slot));
    return out;
  }
  ensure_indexes();
  for (auto slot : contents_.candidates(key)) collect(slot);
  return out;
}

template <hfmm::storage S, hfmm::fetcher F>
duplicate_report model_manager<S, F>::get_duplicate_report() const {
  std::unordered_map<std::string, duplicate_report::group> groups;
  auto read = for_each_model([&](const model_metadata& m) {
    if (!m.repository_structure) return;
    for (auto f : m.repository_structure->files) {
      if (f.size() == 0) continue;  // empty files share nothing worth reporting
      auto& g = groups[detail::content_key(f)];
      g.size = f.size();
      g.files.push_back({&m, std::string(f.path())});
    }
  });
  if (!read) noted_error(read.error());
  duplicate_report r;
  for (auto& [key, g] : groups) {
    if (g.files.size() < 2) continue;
    g.content = key;
    r.reclaimable_bytes += (g.files.size() - 1) * g.size;
    r.groups.push_back(std::move(g));
  }
  std::sort(r.groups.begin(), r.groups.end(), [](const auto& a, const auto& b) {
    auto wa = (a.files.size() - 1) * a.size, wb = (b.files.size() - 1) * b.size;
    return wa != wb ? wa > wb : a.content < b.content;
  });
  return r;
}

namespace detail {
/// |A ∩ B| / |A ∪ B| from the sizes: the one formula both modes rank by, so they tie alike.
inline double jaccard(std::size_t common, std::size_t a, std::size_t b) {
  auto all = a + b - common;
  return all == 0 ? 0.0 : static_cast<double>(common) / static_cast<double>(all);
}

/// The distinct contents of a structure's files, sorted.
inline std::vector<std::string> distinct_contents(const repo_structure& s) {
  std::vector<std::string> keys;
  keys.reserve(s.files.size());
  for (auto f : s.files) keys.push_back(content_key(f));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

/// How many elements two sorted ranges share.
template <class It, class Less>
std::size_t common_count(It a, It a_end, It b, It b_end, Less less) {
  std::size_t common = 0;
  while (a != a_end && b != b_end) {
    if (less(*a, *b)) ++a;
    else if (less(*b, *a)) ++b;
    else ++a, ++b, ++common;
  }
  return common;
}
}  // namespace detail

template <hfmm::storage S, hfmm::fetcher F>
std::vector<similar_model> model_manager<S, F>::get_similar_models(std::string_view id, std::size_t limit) const {
  std::vector<similar_model> out;
  const auto* target = get_model(id);
  if (!target || !target->repository_structure || limit == 0) return out;
  const auto& ts = *target->repository_structure;
  auto target_contents = detail::distinct_contents(ts);
  if constexpr (queried && similarity_storage<S>) {
    // The store names the models sharing anything with the target, how much they share and
    // their file counts: the path score is exact. Their distinct contents are asked best bound
    // first: the content score is at most shared_contents / |target contents| (more contents
    // of its own only lower it), so once `limit` scores beat the next bound (or tie it earlier
    // in the catalog), no model left can enter. At 100 000 models that asked 272 models'
    // contents where the bound without the file counts asked 8 464.
    std::lock_guard lock(*materialized_.mutex);
    auto overlaps = noted(storage_.model_overlaps(id), std::vector<model_overlap>());
    std::vector<double> bound(overlaps.size());  // its contents being no more than those it shares
    for (std::size_t i = 0; i < overlaps.size(); ++i)
      bound[i] = detail::jaccard(overlaps[i].shared_paths, ts.files.size(), overlaps[i].files) +
                 detail::jaccard(overlaps[i].shared_contents, target_contents.size(), overlaps[i].shared_contents);
    std::vector<std::size_t> order(overlaps.size());  // catalog places, best bound first
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return bound[a] > bound[b]; });
    struct scored {
      std::size_t place;  // in catalog order
      double paths, contents;
    };
    std::vector<scored> best;  // the `limit` best so far, best first, earlier in the catalog first on a tie
    auto rank = [](const scored& a, const scored& b) {
      auto sa = a.paths + a.contents, sb = b.paths + b.contents;
      return sa != sb ? sa > sb : a.place < b.place;
    };
    std::size_t next = 0;
    // Batches grow fast: a list of ids costs DuckDB one scan of the files table whatever its
    // length, while 16 or fewer are point look-ups.
    for (std::size_t batch = 16; next < order.size(); batch = std::min<std::size_t>(batch * 16, 4096)) {
      if (best.size() == limit) {
        auto last = best.back().paths + best.back().contents, at_most = bound[order[next]];
        if (at_most < last || (at_most == last && order[next] > best.back().place)) break;  // equal bounds: catalog order
      }
      auto end = std::min(order.size(), next + batch);
      std::vector<std::string> ids;
      for (auto i = next; i < end; ++i) ids.push_back(overlaps[order[i]].model_id);
      auto extents = noted(storage_.model_extents(ids), std::vector<model_extent>());
      if (extents.size() != ids.size()) return out;  // the store failed: query_error() says why
      for (auto i = next; i < end; ++i) {
        const auto& o = overlaps[order[i]];
        const auto& e = extents[i - next];
        best.push_back({order[i], detail::jaccard(o.shared_paths, ts.files.size(), o.files),
                        detail::jaccard(o.shared_contents, target_contents.size(), e.contents)});
      }
      auto kept = std::min(best.size(), limit);
      std::partial_sort(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(kept), best.end(), rank);
      best.resize(kept);
      next = end;
    }
    std::vector<std::string> ids;
    for (const auto& b : best) ids.push_back(overlaps[b.place].model_id);
    auto models = materialize(ids);  // in the order of ids, less any removed meanwhile
    for (std::size_t i = 0, m = 0; i < best.size() && m < models.size(); ++i)
      if (models[m]->model_id == ids[i]) out.push_back({models[m++], best[i].paths, best[i].contents});
    return out;
  } else {
    auto path_less = [](const file_ref& x, const file_ref& y) { return x.path() < y.path(); };
    auto read = for_each_model([&](const model_metadata& m) {
      if (&m == target || !m.repository_structure) return;  // materialized once: the same pointer
      const auto& s = *m.repository_structure;
      auto paths = detail::common_count(ts.files.begin(), ts.files.end(), s.files.begin(), s.files.end(), path_less);
      auto other = detail::distinct_contents(s);
      auto contents = detail::common_count(target_contents.begin(), target_contents.end(), other.begin(), other.end(), std::less<>{});
      double pj = detail::jaccard(paths, ts.files.size(), s.files.size());
      double cj = detail::jaccard(contents, target_contents.size(), other.size());
      if (pj > 0 || cj > 0) out.push_back({&m, pj, cj});
    });
    if (!read) noted_error(read.error());
    std::stable_sort(out.begin(), out.end(), [](const similar_model& a, const similar_model& b) {
      return a.path_jaccard + a.content_jaccard > b.path_jaccard + b.content_jaccard;
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  }
}

}  // namespace hfmm
