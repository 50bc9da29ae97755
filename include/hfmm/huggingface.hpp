#pragma once
// The Python Model Manager's module functions: fetch_huggingface_repo_structure and
// create_model_from_huggingface, on any fetcher. (<hfmm/fetch/hub_fetcher.hpp> adds the
// overloads that build a hub_fetcher from the environment.)

#include <hfmm/concepts.hpp>
#include <hfmm/detail/ascii.hpp>
#include <hfmm/detail/config.hpp>
#include <hfmm/detail/blocking.hpp>
#include <hfmm/model.hpp>

#include <boost/json/object.hpp>


namespace hfmm {

struct create_options {
  std::optional<std::string> architecture;
  std::optional<std::string> inference_code_location;
  bool fetch_repo_structure = true;
  std::string branch = "main";
};

namespace detail {
/// Field rules of create_model_from_huggingface, as the Python Model Manager's.
model_metadata make_model_from_config(std::string_view model_id, const boost::json::object& hf_config,
                                      const create_options& options, std::string_view endpoint);
/// The base of source URLs: the fetcher's endpoint when it names one.
template <class F>
std::string_view endpoint_of(const F& f) {
  if constexpr (fetcher_with_endpoint<F>) return f.endpoint();
  else return default_endpoint;
}
/// apply_model_info; `new_record` also derives the kind when the caller named the architecture.
void fill_from_hub(model_metadata& m, const fetched_model& f, bool new_record);
}  // namespace detail

/// Fills what a record does not say yet from what the Hub said with a fetched structure:
/// architecture (when "unknown"), huggingface_config (when absent or empty), tags (when
/// empty), license (when absent). When it fills the architecture it also derives model_type
/// and the io specs from the pipeline tag and the architecture (docs/model_info.md). Values
/// already in the record win; the structure itself is not touched (callers place it).
inline void apply_model_info(model_metadata& m, const fetched_model& f) { detail::fill_from_hub(m, f, false); }

/// The structure of `repo_id` at `branch` with the model info of its commit.
template <hfmm::model_info_fetcher F>
boost::asio::awaitable<result<fetched_model>> async_fetch_huggingface_model(F& f, std::string_view repo_id,
                                                                           std::string_view branch = "main") {
  return f.async_fetch_model(repo_id, branch);
}

template <hfmm::model_info_fetcher F>
result<fetched_model> fetch_huggingface_model(F& f, std::string_view repo_id, std::string_view branch = "main") {
  return detail::run_blocking(f.async_fetch_model(repo_id, branch));
}

/// The structure of `repo_id` ("org/name", "name", "datasets/org/name", "spaces/org/name")
/// at `branch`, pinned to the commit it resolves to.
template <hfmm::fetcher F>
boost::asio::awaitable<result<repo_structure>> async_fetch_huggingface_repo_structure(F& f, std::string_view repo_id,
                                                                                      std::string_view branch = "main") {
  return f.async_fetch_structure(repo_id, branch);
}

template <hfmm::fetcher F>
result<repo_structure> fetch_huggingface_repo_structure(F& f, std::string_view repo_id, std::string_view branch = "main") {
  return detail::run_blocking(f.async_fetch_structure(repo_id, branch));
}

/// A model record from a Hugging Face config.json; never fetches.
inline model_metadata create_model_from_huggingface(std::string_view model_id, const boost::json::object& hf_config,
                                                    const create_options& options = {}) {
  return detail::make_model_from_config(model_id, hf_config, options, detail::default_endpoint);
}

/// A model record from the Hub: its structure at options.branch (always fetched) and, from a
/// fetcher that gives model info, what hf_config and the options leave open — architecture,
/// config, tags, licence, and the kind derived from the pipeline tag (docs/model_info.md).
/// A failed fetch is the error; nothing is made.
template <hfmm::fetcher F>
result<model_metadata> create_model_from_hub(F& f, std::string_view model_id, const boost::json::object& hf_config = {},
                                             const create_options& options = {}) {
  auto m = detail::make_model_from_config(model_id, hf_config, options, detail::endpoint_of(f));
  if constexpr (model_info_fetcher<F>) {
    auto fetched = fetch_huggingface_model(f, model_id, options.branch);
    if (!fetched) return fetched.error();
    detail::fill_from_hub(m, *fetched, true);
    m.repository_structure = std::move(fetched->structure);
  } else {
    auto s = fetch_huggingface_repo_structure(f, model_id, options.branch);
    if (!s) return s.error();
    m.repository_structure = std::move(*s);
  }
  return m;
}

/// The same as create_model_from_hub when options.fetch_repo_structure (the Python
/// signature); a failed fetch gives the record without repository_structure.
template <hfmm::fetcher F>
model_metadata create_model_from_huggingface(F& f, std::string_view model_id, const boost::json::object& hf_config,
                                             const create_options& options = {}) {
  if (options.fetch_repo_structure)
    if (auto m = create_model_from_hub(f, model_id, hf_config, options)) return std::move(*m);
  return detail::make_model_from_config(model_id, hf_config, options, detail::endpoint_of(f));
}

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/huggingface.ipp>
#endif
