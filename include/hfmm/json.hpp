#pragma once
// Boost.JSON conversions in the Python Model Manager's store layout (a top-level object keyed
// by model_id; each record its 18 fields by name; hfmm's additions inside repository_structure):
//   boost::json::value_from(x), boost::json::value_to<T>(jv), boost::json::try_value_to<T>(jv)
// for io_spec, file_entry, repo_structure and model_metadata.
//
// Writing is canonical: all 18 record fields, LFS as the Hub's {"oid","size","pointerSize"}
// ({} for regular files), naive-UTC times with six fraction digits, extras (commit_sha,
// repo_type, previous, xet_hash) only when present. Reading is lenient: missing keys and
// nulls take defaults, legacy "DataType.X"/"ModelType.X" and {"sha256","pointer_size"} are
// accepted, unknown record keys go to model_metadata::extra. A value of the wrong JSON type
// fails with errc::invalid_argument; detail::read_model() also says where.

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/model.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <span>
#include <string>
#include <string_view>

namespace hfmm {

void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const io_spec& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const file_entry& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const repo_structure& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const model_metadata& v);

result<io_spec> tag_invoke(boost::json::try_value_to_tag<io_spec>, const boost::json::value& jv);
result<file_entry> tag_invoke(boost::json::try_value_to_tag<file_entry>, const boost::json::value& jv);
result<repo_structure> tag_invoke(boost::json::try_value_to_tag<repo_structure>, const boost::json::value& jv);
result<model_metadata> tag_invoke(boost::json::try_value_to_tag<model_metadata>, const boost::json::value& jv);

namespace detail {
/// Reads one store record; on failure `why` names the field and what was wrong.
/// A record of the store; `key` (its key in the file, when known) names it in `why`.
result<model_metadata> read_model(const boost::json::value& jv, std::string* why = nullptr, std::string_view key = {});
/// A catalog's text (the top-level object keyed by model_id, models in the order added) member
/// by member, for a catalog larger than memory: add() appends a member and says when the text
/// held has grown to a piece worth writing; the caller writes text() and clears it. finish()
/// closes the object.
class catalog_text {
public:
  static constexpr std::size_t piece_bytes = 1u << 20;
  bool add(std::string_view model_id, const boost::json::value& record);
  void finish();
  std::string& text() noexcept { return text_; }

private:
  std::string text_;
  bool first_ = true;
};
/// Whether `v` holds a number JSON text cannot carry (±inf or NaN, e.g. parsed from 1e999):
/// serialized, it would make the file unreadable.
bool holds_non_finite(const boost::json::value& v);
/// The model's free-form JSON (config, requirements, metrics, unknown keys) carries only
/// numbers JSON can write; otherwise invalid_argument, and `why` says where. Stores check this
/// before writing, so nothing they write becomes unreadable.
result<void> check_writable(const model_metadata& m, std::string* why = nullptr);
/// A structure's "model_info" object as the store writes it, and as it reads it back (lenient,
/// as the record reader; on failure `why` says what was wrong).
boost::json::object write_model_info(const hub_model_info& info);
std::optional<hub_model_info> read_model_info(const boost::json::value& jv, std::string* why = nullptr);
/// Writes one model's store record (every field but model_id, which keys it) into `o`.
void write_model_record(boost::json::object& o, const model_metadata& m);
/// How a record field is held: a string, any JSON value (a column of JSON text in SQL), or the
/// repository structure (SQL splits it into the structure columns and the files table).
enum class field_kind { text, json, structure };
struct model_field {
  std::string_view key;
  field_kind kind;
};
/// The store record's fields, in the Python Model Manager's order: the one list
/// behind the record reader and writer, and the SQL stores' models columns (each field but
/// repository_structure is a column of the same name).
inline constexpr model_field model_fields[] = {
    {"model_id", field_kind::text},           {"model_name", field_kind::text},
    {"model_type", field_kind::text},         {"architecture", field_kind::text},
    {"inputs", field_kind::json},             {"outputs", field_kind::json},
    {"huggingface_config", field_kind::json}, {"inference_code_location", field_kind::text},
    {"supported_backends", field_kind::json}, {"hardware_requirements", field_kind::json},
    {"performance_metrics", field_kind::json}, {"tags", field_kind::json},
    {"source_url", field_kind::text},         {"license", field_kind::text},
    {"description", field_kind::text},        {"repository_structure", field_kind::structure},
    {"created_at", field_kind::text},         {"updated_at", field_kind::text}};
/// Whether `key` is one of the store record's own fields (not kept in `extra`).
bool is_model_field(std::string_view key);
}  // namespace detail

}  // namespace hfmm

#include <hfmm/impl/json.ipp>
