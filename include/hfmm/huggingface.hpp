#pragma once
// The Python Model Manager's module functions: fetch_huggingface_repo_structure and
// create_model_from_huggingface, on any fetcher. (<hfmm/fetch/hub_fetcher.hpp> adds the
// overloads that build a hub_fetcher from the environment.)

#include <hfmm/concepts.hpp>
#include <hfmm/detail/blocking.hpp>
#include <hfmm/model.hpp>

#include <boost/json/object.hpp>

#include <cctype>
#include <initializer_list>

namespace hfmm {

struct create_options {
  std::optional<std::string> architecture;
  std::optional<std::string> inference_code_location;
  bool fetch_repo_structure = true;
  std::string branch = "main";
};

namespace detail {
/// Field rules of create_model_from_huggingface (DESIGN §2.2).
inline model_metadata make_model_from_config(std::string_view model_id, const boost::json::object& hf_config,
                                             const create_options& options, std::string_view endpoint) {
  model_metadata m;
  m.model_id = model_id;
  auto slash = model_id.rfind('/');
  m.model_name = model_id.substr(slash == std::string_view::npos ? 0 : slash + 1);
  if (options.architecture) {
    m.architecture = *options.architecture;
  } else if (auto* a = hf_config.if_contains("architectures");
             a && a->is_array() && !a->get_array().empty() && a->get_array()[0].is_string()) {
    m.architecture = a->get_array()[0].get_string();
  } else {
    m.architecture = "unknown";
  }
  std::string arch(m.architecture);
  for (auto& c : arch) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](std::initializer_list<std::string_view> words) {
    for (auto w : words)
      if (arch.find(w) != std::string::npos) return true;
    return false;
  };
  if (has({"vision", "vit", "clip"})) m.model_type = model_type::vision_model;
  else if (has({"audio", "wav2vec", "whisper"})) m.model_type = model_type::audio_model;
  else m.model_type = model_type::language_model;
  io_spec input, output;
  input.name = "input_ids", input.data_type = data_type::tokens, input.description = "Tokenized input";
  output.name = "logits", output.data_type = data_type::logits, output.description = "Model output logits";
  m.inputs.push_back(std::move(input));
  m.outputs.push_back(std::move(output));
  m.huggingface_config = hf_config;
  m.inference_code_location = options.inference_code_location;
  std::string base(endpoint);
  while (!base.empty() && base.back() == '/') base.pop_back();
  m.source_url = base + "/" + std::string(model_id);
  auto t = now();
  m.created_at = m.updated_at = t;
  return m;
}
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
  return detail::make_model_from_config(model_id, hf_config, options, "https://huggingface.co");
}

/// The same, with the repository structure fetched through `f` (when
/// options.fetch_repo_structure); a failed fetch leaves repository_structure empty.
template <hfmm::fetcher F>
model_metadata create_model_from_huggingface(F& f, std::string_view model_id, const boost::json::object& hf_config,
                                             const create_options& options = {}) {
  std::string_view endpoint = "https://huggingface.co";
  if constexpr (fetcher_with_endpoint<F>) endpoint = f.endpoint();
  auto m = detail::make_model_from_config(model_id, hf_config, options, endpoint);
  if (options.fetch_repo_structure)
    if (auto s = fetch_huggingface_repo_structure(f, model_id, options.branch)) m.repository_structure = std::move(*s);
  return m;
}

}  // namespace hfmm
