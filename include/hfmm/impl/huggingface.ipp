#pragma once
// Body of <hfmm/huggingface.hpp>.

#include <cctype>
#include <initializer_list>

namespace hfmm::detail {

/// The Python Model Manager's rule: the lower-cased architecture, first match wins.
HFMM_DECL model_type model_type_of_architecture(std::string_view architecture) {
  auto arch = to_lower_ascii(architecture);
  auto has = [&](std::initializer_list<std::string_view> words) {
    for (auto w : words)
      if (arch.find(w) != std::string::npos) return true;
    return false;
  };
  if (has({"vision", "vit", "clip"})) return model_type::vision_model;
  if (has({"audio", "wav2vec", "whisper"})) return model_type::audio_model;
  return model_type::language_model;
}

/// The inputs and outputs a kind of model takes and gives (docs/model_info.md).
enum class io_shape { none, tokens_to_logits, tokens_to_embeddings, image_to_logits, image_to_features, video_to_logits,
                      audio_to_logits, tokens_to_audio, image_and_tokens_to_logits, tokens_to_image };

HFMM_DECL void set_io(model_metadata& m, io_shape shape) {
  auto spec = [](std::string_view name, data_type type, std::string_view description) {
    io_spec s;
    s.name = name, s.data_type = type, s.description = description;
    return s;
  };
  auto tokens = spec("input_ids", data_type::tokens, "Tokenized input");
  auto pixels = spec("pixel_values", data_type::image, "Image pixels");
  auto logits = spec("logits", data_type::logits, "Model output logits");
  m.inputs.clear();
  m.outputs.clear();
  switch (shape) {
    case io_shape::none: return;
    case io_shape::tokens_to_logits: m.inputs = {tokens}, m.outputs = {logits}; return;
    case io_shape::tokens_to_embeddings:
      m.inputs = {tokens}, m.outputs = {spec("embeddings", data_type::embeddings, "Embedding vectors")};
      return;
    case io_shape::image_to_logits: m.inputs = {pixels}, m.outputs = {logits}; return;
    case io_shape::image_to_features:
      m.inputs = {pixels}, m.outputs = {spec("features", data_type::features, "Image features")};
      return;
    case io_shape::video_to_logits:
      m.inputs = {spec("pixel_values", data_type::video, "Video frames")}, m.outputs = {logits};
      return;
    case io_shape::audio_to_logits:
      m.inputs = {spec("input_values", data_type::audio, "Audio samples")}, m.outputs = {logits};
      return;
    case io_shape::tokens_to_audio:
      m.inputs = {tokens}, m.outputs = {spec("waveform", data_type::audio, "Generated audio")};
      return;
    case io_shape::image_and_tokens_to_logits: m.inputs = {tokens, pixels}, m.outputs = {logits}; return;
    case io_shape::tokens_to_image:
      m.inputs = {tokens}, m.outputs = {spec("images", data_type::image, "Generated images")};
      return;
  }
}

struct pipeline_kind {
  std::string_view pipeline_tag;
  model_type type;
  io_shape io;
};

/// The Hub's pipeline tags (its task list) → kind of model. Documented in docs/model_info.md.
inline constexpr pipeline_kind pipeline_kinds[] = {
    {"text-generation", model_type::decoder_only, io_shape::tokens_to_logits},
    {"text2text-generation", model_type::encoder_decoder, io_shape::tokens_to_logits},
    {"translation", model_type::encoder_decoder, io_shape::tokens_to_logits},
    {"summarization", model_type::encoder_decoder, io_shape::tokens_to_logits},
    {"fill-mask", model_type::encoder_only, io_shape::tokens_to_logits},
    {"text-classification", model_type::encoder_only, io_shape::tokens_to_logits},
    {"token-classification", model_type::encoder_only, io_shape::tokens_to_logits},
    {"question-answering", model_type::encoder_only, io_shape::tokens_to_logits},
    {"zero-shot-classification", model_type::encoder_only, io_shape::tokens_to_logits},
    {"table-question-answering", model_type::encoder_only, io_shape::tokens_to_logits},
    {"feature-extraction", model_type::embedding_model, io_shape::tokens_to_embeddings},
    {"sentence-similarity", model_type::embedding_model, io_shape::tokens_to_embeddings},
    {"image-classification", model_type::vision_model, io_shape::image_to_logits},
    {"object-detection", model_type::vision_model, io_shape::image_to_logits},
    {"image-segmentation", model_type::vision_model, io_shape::image_to_logits},
    {"depth-estimation", model_type::vision_model, io_shape::image_to_logits},
    {"mask-generation", model_type::vision_model, io_shape::image_to_logits},
    {"keypoint-detection", model_type::vision_model, io_shape::image_to_logits},
    {"image-feature-extraction", model_type::vision_model, io_shape::image_to_features},
    {"video-classification", model_type::vision_model, io_shape::video_to_logits},
    {"automatic-speech-recognition", model_type::audio_model, io_shape::audio_to_logits},
    {"audio-classification", model_type::audio_model, io_shape::audio_to_logits},
    {"voice-activity-detection", model_type::audio_model, io_shape::audio_to_logits},
    {"text-to-speech", model_type::audio_model, io_shape::tokens_to_audio},
    {"text-to-audio", model_type::audio_model, io_shape::tokens_to_audio},
    {"image-text-to-text", model_type::multimodal, io_shape::image_and_tokens_to_logits},
    {"image-to-text", model_type::multimodal, io_shape::image_and_tokens_to_logits},
    {"visual-question-answering", model_type::multimodal, io_shape::image_and_tokens_to_logits},
    {"document-question-answering", model_type::multimodal, io_shape::image_and_tokens_to_logits},
    {"zero-shot-image-classification", model_type::multimodal, io_shape::image_and_tokens_to_logits},
    {"text-to-image", model_type::multimodal, io_shape::tokens_to_image},
};

/// model_type and io specs from the pipeline tag, else the Python rule on the architecture
/// (make_model_from_config's). Datasets and spaces are not models: no io specs.
HFMM_DECL void derive_kind(model_metadata& m, std::string_view pipeline_tag, repo_type repo) {
  if (repo != repo_type::model) return set_io(m, io_shape::none);
  for (const auto& k : pipeline_kinds)
    if (k.pipeline_tag == pipeline_tag) {
      m.model_type = k.type;
      return set_io(m, k.io);
    }
  m.model_type = model_type_of_architecture(m.architecture);
  set_io(m, io_shape::tokens_to_logits);
}

HFMM_DECL void fill_from_hub(model_metadata& m, const fetched_model& f, bool new_record) {
  bool filled_architecture = false;
  if (m.architecture.empty() || m.architecture == "unknown") {
    if (f.config)
      if (auto* a = f.config->if_contains("architectures");
          a && a->is_array() && !a->get_array().empty() && a->get_array()[0].is_string()) {
        m.architecture = a->get_array()[0].get_string();
        filled_architecture = true;
      }
  }
  if ((!m.huggingface_config || m.huggingface_config->empty()) && f.config) m.huggingface_config = *f.config;
  if (m.tags.empty()) m.tags = f.tags;
  if (!m.license) m.license = f.license;
  if (new_record || filled_architecture) {
    const auto& info = f.structure.model_info;
    derive_kind(m, info ? std::string_view(info->pipeline_tag) : std::string_view(), f.structure.repo_type);
  }
}

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
  m.model_type = model_type_of_architecture(m.architecture);
  set_io(m, io_shape::tokens_to_logits);
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
