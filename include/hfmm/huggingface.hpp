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
}  // namespace detail

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

/// The same, with the repository structure fetched through `f` (when
/// options.fetch_repo_structure); a failed fetch leaves repository_structure empty.
template <hfmm::fetcher F>
model_metadata create_model_from_huggingface(F& f, std::string_view model_id, const boost::json::object& hf_config,
                                             const create_options& options = {}) {
  std::string_view endpoint = detail::default_endpoint;
  if constexpr (fetcher_with_endpoint<F>) endpoint = f.endpoint();
  auto m = detail::make_model_from_config(model_id, hf_config, options, endpoint);
  if (options.fetch_repo_structure)
    if (auto s = fetch_huggingface_repo_structure(f, model_id, options.branch)) m.repository_structure = std::move(*s);
  return m;
}

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/huggingface.ipp>
#endif
