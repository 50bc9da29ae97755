#pragma once
// Body of <hfmm/huggingface.hpp>.

#include <cctype>
#include <initializer_list>

namespace hfmm::detail {

HFMM_DECL model_metadata make_model_from_config(std::string_view model_id, const boost::json::object& hf_config,
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
  auto arch = to_lower_ascii(m.architecture);
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

}  // namespace hfmm::detail
