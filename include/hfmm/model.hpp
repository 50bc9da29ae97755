#pragma once
// model_type, data_type, io_spec and model_metadata: one catalog record, field for field the
// Python Model Manager's ModelMetadata (its JSON keys are the member names).

#include <hfmm/detail/ascii.hpp>
#include <hfmm/structure.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfmm {

enum class model_type {
  language_model, vision_model, multimodal, audio_model, embedding_model, encoder_decoder, encoder_only, decoder_only
};
enum class data_type { text, image, audio, video, embeddings, tokens, logits, features };

std::string_view to_string(model_type);
std::string_view to_string(data_type);
/// Accept the value ("language_model") and the legacy "ModelType.LANGUAGE_MODEL" spelling.
std::optional<model_type> parse_model_type(std::string_view);
/// Accept the value ("tokens") and the legacy "DataType.TOKENS" spelling.
std::optional<data_type> parse_data_type(std::string_view);

/// One input or output of a model.
struct io_spec {
  std::string name;
  hfmm::data_type data_type = data_type::text;
  std::optional<std::vector<std::optional<std::int64_t>>> shape;  ///< null dims are dynamic
  std::string dtype = "float32";
  std::string description;
  bool optional = false;
  bool operator==(const io_spec&) const = default;
};

struct model_metadata {
  std::string model_id, model_name;
  hfmm::model_type model_type = model_type::language_model;
  std::string architecture;
  std::vector<io_spec> inputs, outputs;
  std::optional<boost::json::object> huggingface_config;
  std::optional<std::string> inference_code_location;
  std::vector<std::string> supported_backends;
  std::optional<boost::json::object> hardware_requirements, performance_metrics;
  std::vector<std::string> tags;
  std::optional<std::string> source_url, license;
  std::string description;
  std::optional<repo_structure> repository_structure;
  timestamp created_at{}, updated_at{};
  boost::json::object extra;  ///< unknown keys of the record, kept and written back
  bool operator==(const model_metadata&) const = default;
};

/// A fetched structure with the record-level facts the Hub gave with it at that commit (its
/// revision answer): what fills a record's architecture, huggingface_config, tags and license.
struct fetched_model {
  repo_structure structure;
  std::optional<boost::json::object> config;  ///< the answer's "config" (architectures, model_type, ...)
  std::vector<std::string> tags;
  std::optional<std::string> license;  ///< cardData.license
  bool operator==(const fetched_model&) const = default;
};

/// A search of the Hub's repositories (GET /api/{models|datasets|spaces}); empty fields are
/// not sent. Results come newest-first by `sort` (the Hub's order when empty).
struct repo_listing_query {
  hfmm::repo_type repo_type = repo_type::model;
  std::string author, search, filter, pipeline_tag, sort;
  std::size_t limit = 100;  ///< repositories wanted, over all pages
};

/// One repository of a listing, with its current commit.
struct listed_repo {
  std::string id;   ///< as the catalog spells it ("org/name", "datasets/org/name")
  std::string sha;  ///< empty when the listing did not say
  bool operator==(const listed_repo&) const = default;
};

namespace detail {
inline constexpr std::string_view model_type_names[] = {"language_model", "vision_model",   "multimodal",
                                                        "audio_model",    "embedding_model", "encoder_decoder",
                                                        "encoder_only",   "decoder_only"};
inline constexpr std::string_view data_type_names[] = {"text",   "image",  "audio",  "video",
                                                       "embeddings", "tokens", "logits", "features"};

/// Finds `text` in `names`, also in its legacy "<Prefix>.UPPER_NAME" spelling.
template <class Enum, std::size_t N>
std::optional<Enum> parse_enum_name(std::string_view text, const std::string_view (&names)[N], std::string_view prefix) {
  bool legacy = text.starts_with(prefix);
  if (legacy) text.remove_prefix(prefix.size());
  for (std::size_t i = 0; i < N; ++i)
    if (legacy ? iequals(text, names[i]) : text == names[i]) return static_cast<Enum>(i);
  return std::nullopt;
}
}  // namespace detail

inline std::string_view to_string(model_type t) { return detail::model_type_names[static_cast<std::size_t>(t)]; }
inline std::string_view to_string(data_type t) { return detail::data_type_names[static_cast<std::size_t>(t)]; }
inline std::optional<model_type> parse_model_type(std::string_view s) {
  return detail::parse_enum_name<model_type>(s, detail::model_type_names, "ModelType.");
}
inline std::optional<data_type> parse_data_type(std::string_view s) {
  return detail::parse_enum_name<data_type>(s, detail::data_type_names, "DataType.");
}

}  // namespace hfmm
