#pragma once
// Bodies of <hfmm/json.hpp>. One table of field names per type, shared by writer and reader.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace hfmm::detail {

namespace json = boost::json;

/// Field access for the lenient store reader: missing or null → "absent"; a present value
/// of the wrong type records where and why in `why`.
class store_reader {
public:
  store_reader(std::string* why, std::string where) : why_(why), where_(std::move(where)) {}

  bool fail(std::string_view key, std::string_view expected) {
    if (why_ && why_->empty()) *why_ = where_ + ": \"" + std::string(key) + "\" " + std::string(expected);
    return false;
  }
  const std::string& where() const { return where_; }
  std::string* why() const { return why_; }

  static const json::value* get(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() || it->value().is_null() ? nullptr : &it->value();
  }

  bool string(const json::object& o, std::string_view key, std::string& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (!v->is_string()) return fail(key, "should be a string");
    out.assign(v->get_string().data(), v->get_string().size());
    return true;
  }
  bool string(const json::object& o, std::string_view key, std::optional<std::string>& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (!v->is_string()) return fail(key, "should be a string or null");
    out.emplace(v->get_string().data(), v->get_string().size());
    return true;
  }
  bool object(const json::object& o, std::string_view key, std::optional<json::object>& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (!v->is_object()) return fail(key, "should be an object or null");
    out.emplace(v->get_object(), json::storage_ptr());  // a deep copy: the DOM's memory may be reused
    return true;
  }
  bool strings(const json::object& o, std::string_view key, std::vector<std::string>& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (!v->is_array()) return fail(key, "should be an array of strings");
    for (const auto& e : v->get_array()) {
      if (!e.is_string()) return fail(key, "should be an array of strings");
      out.emplace_back(e.get_string().data(), e.get_string().size());
    }
    return true;
  }
  template <class Unsigned>
  bool number(const json::object& o, std::string_view key, Unsigned& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (auto n = to_unsigned(*v); n && *n <= std::numeric_limits<Unsigned>::max()) {
      out = static_cast<Unsigned>(*n);
      return true;
    }
    return fail(key, "should be a non-negative integer");
  }
  bool time(const json::object& o, std::string_view key, timestamp& out) {
    auto* v = get(o, key);
    if (!v) return true;
    if (!v->is_string()) return fail(key, "should be an ISO-8601 time string");
    auto t = parse_timestamp(v->get_string());
    if (!t) return fail(key, "is not an ISO-8601 time");
    out = *t;
    return true;
  }

  static std::optional<std::uint64_t> to_unsigned(const json::value& v) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    if (v.is_double()) {  // Python may have written 1e3-style numbers; keep exact integers only
      double d = v.get_double();
      if (d >= 0 && d < 1.8e19 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
    }
    return std::nullopt;
  }

private:
  std::string* why_;
  std::string where_;
};

#if HFMM_DEFINE_BODIES
HFMM_DECL json::value optional_string(const std::optional<std::string>& s) {
  return s ? json::value(json::string_view(*s)) : json::value(nullptr);
}
HFMM_DECL json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(json::string_view(s));
  return a;
}

// ---- io_spec

HFMM_DECL json::object write_io_spec(const io_spec& s) {
  json::object o;
  o.reserve(6);
  o["name"] = s.name;
  o["data_type"] = to_string(s.data_type);
  if (s.shape) {
    json::array dims;
    for (const auto& d : *s.shape) dims.push_back(d ? json::value(*d) : json::value(nullptr));
    o["shape"] = std::move(dims);
  } else {
    o["shape"] = nullptr;
  }
  o["dtype"] = s.dtype;
  o["description"] = s.description;
  o["optional"] = s.optional;
  return o;
}

HFMM_DECL bool read_io_spec(const json::value& jv, io_spec& out, store_reader& r) {
  if (!jv.is_object()) return r.fail("inputs/outputs", "should hold objects");
  const auto& o = jv.get_object();
  if (!r.string(o, "name", out.name) || !r.string(o, "dtype", out.dtype) || !r.string(o, "description", out.description))
    return false;
  if (auto* v = store_reader::get(o, "data_type")) {
    auto t = v->is_string() ? parse_data_type(v->get_string()) : std::nullopt;
    if (!t) return r.fail("data_type", "should be a data type such as \"tokens\" or \"DataType.TOKENS\"");
    out.data_type = *t;
  }
  if (auto* v = store_reader::get(o, "shape")) {
    if (!v->is_array()) return r.fail("shape", "should be an array of integers or nulls");
    out.shape.emplace();
    for (const auto& d : v->get_array()) {
      if (d.is_null()) out.shape->push_back(std::nullopt);
      else if (d.is_int64()) out.shape->push_back(d.get_int64());
      else if (d.is_uint64() && d.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        out.shape->push_back(static_cast<std::int64_t>(d.get_uint64()));
      else return r.fail("shape", "should be an array of integers or nulls");
    }
  }
  if (auto* v = store_reader::get(o, "optional")) {
    if (!v->is_bool()) return r.fail("optional", "should be true or false");
    out.optional = v->get_bool();
  }
  return true;
}

// ---- file_entry

HFMM_DECL void write_file_entry(json::object& o, const file_entry& e) {
  o.reserve(5);
  o["size"] = e.size;
  json::object lfs;
  if (e.lfs) {
    lfs["oid"] = e.lfs->sha256;
    lfs["size"] = e.lfs->size;
    lfs["pointerSize"] = e.lfs->pointer_size;
  }
  o["lfs"] = std::move(lfs);
  o["oid"] = e.oid;
  o["download_url"] = e.download_url;
  if (e.xet_hash) o["xet_hash"] = *e.xet_hash;
}

HFMM_DECL bool read_file_entry(const json::value& jv, file_entry& out, store_reader& r) {
  if (!jv.is_object()) return r.fail("files", "should map paths to objects");
  const auto& o = jv.get_object();
  if (!r.number(o, "size", out.size) || !r.string(o, "oid", out.oid) || !r.string(o, "download_url", out.download_url))
    return false;
  if (!r.string(o, "xet_hash", out.xet_hash)) return false;
  if (auto* v = store_reader::get(o, "lfs")) {
    if (!v->is_object()) return r.fail("lfs", "should be an object");
    const auto& l = v->get_object();
    if (!l.empty()) {
      lfs_info info;
      // The Hub's spelling {"oid","pointerSize"} and the Python sample's {"sha256","pointer_size"}.
      if (!r.string(l, l.contains("oid") ? "oid" : "sha256", info.sha256) || !r.number(l, "size", info.size) ||
          !r.number(l, l.contains("pointerSize") ? "pointerSize" : "pointer_size", info.pointer_size))
        return false;
      out.lfs = std::move(info);
    }
  }
  return true;
}

// ---- hub_model_info (inside repository_structure as "model_info"; absent values omitted)

HFMM_DECL json::object write_model_info(const hub_model_info& i) {
  json::object o;
  if (!i.pipeline_tag.empty()) o["pipeline_tag"] = i.pipeline_tag;
  if (!i.library_name.empty()) o["library_name"] = i.library_name;
  o["gated"] = i.gated.empty() ? json::value(false) : json::value(json::string_view(i.gated));
  o["private"] = i.is_private;
  o["disabled"] = i.disabled;
  if (i.last_modified != timestamp{}) o["last_modified"] = format_timestamp(i.last_modified);
  if (i.created_at != timestamp{}) o["created_at"] = format_timestamp(i.created_at);
  if (!i.parameters.empty()) {
    json::object p;
    for (const auto& [dtype, n] : i.parameters) p[dtype] = n;
    o["parameters"] = std::move(p);
  }
  if (i.total_parameters != 0) o["total_parameters"] = i.total_parameters;
  if (!i.base_models.empty()) o["base_models"] = string_array(i.base_models);
  return o;
}

HFMM_DECL bool read_model_info_into(const json::value& jv, hub_model_info& out, store_reader& r) {
  if (!jv.is_object()) return r.fail("model_info", "should be an object");
  const auto& o = jv.get_object();
  auto flag = [&](std::string_view key, bool& to) {
    auto* v = store_reader::get(o, key);
    if (v && !v->is_bool()) return r.fail(key, "should be true or false");
    if (v) to = v->get_bool();
    return true;
  };
  if (auto* v = store_reader::get(o, "gated"); v && v->is_string()) out.gated = v->get_string();
  else if (v && !v->is_bool()) return r.fail("gated", "should be false, \"auto\" or \"manual\"");
  if (!r.string(o, "pipeline_tag", out.pipeline_tag) || !r.string(o, "library_name", out.library_name) ||
      !flag("private", out.is_private) || !flag("disabled", out.disabled) ||
      !r.time(o, "last_modified", out.last_modified) || !r.time(o, "created_at", out.created_at) ||
      !r.number(o, "total_parameters", out.total_parameters) || !r.strings(o, "base_models", out.base_models))
    return false;
  if (auto* v = store_reader::get(o, "parameters")) {
    if (!v->is_object()) return r.fail("parameters", "should be an object of counts per dtype");
    for (const auto& kv : v->get_object()) {
      auto n = store_reader::to_unsigned(kv.value());
      if (!n) return r.fail("parameters", "should be an object of counts per dtype");
      out.parameters.emplace_back(std::string(kv.key()), *n);
    }
    std::sort(out.parameters.begin(), out.parameters.end());  // JSONB, for one, reorders keys
  }
  return true;
}

HFMM_DECL std::optional<hub_model_info> read_model_info(const json::value& jv, std::string* why) {
  store_reader r(why, "model_info");
  hub_model_info info;
  if (!read_model_info_into(jv, info, r)) return std::nullopt;
  return info;
}

// ---- repo_structure

HFMM_DECL void write_structure(json::object& o, const repo_structure& s) {
  o.reserve(11);
  o["model_id"] = s.model_id;
  o["branch"] = s.branch;
  o["fetched_at"] = format_timestamp(s.fetched_at);
  json::object files;
  files.reserve(s.files.size());
  for (auto f : s.files) {
    json::object entry;
    write_file_entry(entry, f.to_entry());
    files.emplace(json::string_view(f.path().data(), f.path().size()), std::move(entry));
  }
  o["files"] = std::move(files);
  o["total_files"] = s.total_files();
  o["total_size"] = s.total_size();
  if (!s.commit_sha.empty()) o["commit_sha"] = s.commit_sha;
  o["repo_type"] = to_string(s.repo_type);
  if (s.previous) {
    json::object prev;
    write_structure(prev, *s.previous);
    o["previous"] = std::move(prev);
  }
  if (s.model_info) o["model_info"] = write_model_info(*s.model_info);
}

HFMM_DECL bool read_structure(const json::value& jv, repo_structure& out, store_reader& r, int depth = 0) {
  if (!jv.is_object()) return r.fail("repository_structure", "should be an object");
  const auto& o = jv.get_object();
  if (!r.string(o, "model_id", out.model_id) || !r.string(o, "branch", out.branch) ||
      !r.string(o, "commit_sha", out.commit_sha) || !r.time(o, "fetched_at", out.fetched_at))
    return false;
  if (auto* v = store_reader::get(o, "repo_type")) {
    auto t = v->is_string() ? parse_repo_type(v->get_string()) : std::nullopt;
    if (!t) return r.fail("repo_type", "should be \"model\", \"dataset\" or \"space\"");
    out.repo_type = *t;
  }
  if (auto* v = store_reader::get(o, "files")) {
    if (!v->is_object()) return r.fail("files", "should be an object keyed by path");
    const auto& files = v->get_object();
    out.files.clear();
    out.files.reserve(files.size());
    bool prefix_known = false;
    for (const auto& kv : files) {
      file_entry e;
      if (!read_file_entry(kv.value(), e, r)) return false;
      std::string_view path(kv.key().data(), kv.key().size());
      if (!prefix_known && !e.download_url.empty()) {
        // Infer the standard prefix from the first URL that ends in its own encoded path.
        std::string encoded;
        append_encoded_path(encoded, path);
        if (e.download_url.size() > encoded.size() && e.download_url.ends_with(encoded) &&
            e.download_url[e.download_url.size() - encoded.size() - 1] == '/') {
          file_table_access::set_prefix_empty_table(out.files,
                                                    e.download_url.substr(0, e.download_url.size() - encoded.size()));
          prefix_known = true;
        }
      }
      file_table_access::append(out.files, path, e);
    }
    file_table_access::finish(out.files);
  }
  if (auto* v = store_reader::get(o, "model_info")) {
    if (!read_model_info_into(*v, out.model_info.emplace(), r)) return false;
  }
  if (auto* v = store_reader::get(o, "previous"); v && depth == 0) {
    auto prev = std::make_shared<repo_structure>();
    if (!read_structure(*v, *prev, r, depth + 1)) return false;
    out.previous = std::move(prev);
  }
  return true;
}

// ---- model_metadata

HFMM_DECL bool is_model_field(std::string_view key) {
  for (auto f : model_fields)
    if (f.key == key) return true;
  return false;
}

HFMM_DECL void write_model_record(json::object& o, const model_metadata& m) {
  o.reserve(18 + m.extra.size());
  auto io = [](const std::vector<io_spec>& specs) {
    json::array a;
    for (const auto& s : specs) a.emplace_back(write_io_spec(s));
    return a;
  };
  auto opt_object = [](const std::optional<json::object>& x) { return x ? json::value(*x) : json::value(nullptr); };
  o["model_id"] = m.model_id;
  o["model_name"] = m.model_name;
  o["model_type"] = to_string(m.model_type);
  o["architecture"] = m.architecture;
  o["inputs"] = io(m.inputs);
  o["outputs"] = io(m.outputs);
  o["huggingface_config"] = opt_object(m.huggingface_config);
  o["inference_code_location"] = optional_string(m.inference_code_location);
  o["supported_backends"] = string_array(m.supported_backends);
  o["hardware_requirements"] = opt_object(m.hardware_requirements);
  o["performance_metrics"] = opt_object(m.performance_metrics);
  o["tags"] = string_array(m.tags);
  o["source_url"] = optional_string(m.source_url);
  o["license"] = optional_string(m.license);
  o["description"] = m.description;
  if (m.repository_structure) {
    json::object s;
    write_structure(s, *m.repository_structure);
    o["repository_structure"] = std::move(s);
  } else {
    o["repository_structure"] = nullptr;
  }
  o["created_at"] = format_timestamp(m.created_at);
  o["updated_at"] = format_timestamp(m.updated_at);
  for (const auto& kv : m.extra)
    if (!is_model_field(kv.key())) o[kv.key()] = kv.value();
}

HFMM_DECL bool holds_non_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return !std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array())
        if (holds_non_finite(e)) return true;
      return false;
    case json::kind::object:
      for (const auto& kv : v.get_object())
        if (holds_non_finite(kv.value())) return true;
      return false;
    default: return false;
  }
}

HFMM_DECL result<void> check_writable(const model_metadata& m, std::string* why) {
  auto bad = [&](const char* where) -> result<void> {
    if (why) *why = "model \"" + m.model_id + "\": " + where + " holds a number JSON cannot write (infinite or NaN)";
    return errc::invalid_argument;
  };
  for (const auto* o : {m.huggingface_config ? &*m.huggingface_config : nullptr,
                        m.hardware_requirements ? &*m.hardware_requirements : nullptr,
                        m.performance_metrics ? &*m.performance_metrics : nullptr})
    if (o)
      for (const auto& kv : *o)
        if (holds_non_finite(kv.value())) return bad("a config, requirement or metric value");
  for (const auto& kv : m.extra)
    if (holds_non_finite(kv.value())) return bad("an unknown field");
  return {};
}

HFMM_DECL result<model_metadata> read_model(const json::value& jv, std::string* why, std::string_view key) {
  if (!jv.is_object()) {
    if (why) *why = "a model record should be a JSON object";
    return errc::invalid_argument;
  }
  const auto& o = jv.get_object();
  // Lenient about which fields a record has, but it must have one: a JSON file of something
  // else ({"compilerOptions": {...}}) is not a catalog with one odd model.
  if (std::none_of(o.begin(), o.end(), [](const json::key_value_pair& kv) { return is_model_field(kv.key()); })) {
    if (why)
      *why = (key.empty() ? std::string("a record") : "the record \"" + std::string(key) + "\"") +
             " has none of the model fields (model_id, model_name, model_type, architecture, …): this JSON is not a "
             "model catalog, which is an object of model records keyed by model_id";
    return errc::invalid_argument;
  }
  model_metadata m;
  std::string id;
  if (auto* v = store_reader::get(o, "model_id"); v && v->is_string()) id = v->get_string();
  // 1e999 parses to infinity, which no JSON writer can put back: refused here, before it is
  // kept and would turn the next save into an unreadable file.
  if (holds_non_finite(jv)) {
    if (why) *why = "model \"" + id + "\": a number too large for a double (write it as a string)";
    return errc::invalid_argument;
  }
  store_reader r(why, "model \"" + id + "\"");
  auto io_list = [&](std::string_view key, std::vector<io_spec>& out) {
    auto* v = store_reader::get(o, key);
    if (!v) return true;
    if (!v->is_array()) return r.fail(key, "should be an array of io specs");
    for (const auto& e : v->get_array()) {
      io_spec s;
      if (!read_io_spec(e, s, r)) return false;
      out.push_back(std::move(s));
    }
    return true;
  };
  bool ok = r.string(o, "model_id", m.model_id) && r.string(o, "model_name", m.model_name) &&
            r.string(o, "architecture", m.architecture) && io_list("inputs", m.inputs) &&
            io_list("outputs", m.outputs) && r.object(o, "huggingface_config", m.huggingface_config) &&
            r.string(o, "inference_code_location", m.inference_code_location) &&
            r.strings(o, "supported_backends", m.supported_backends) &&
            r.object(o, "hardware_requirements", m.hardware_requirements) &&
            r.object(o, "performance_metrics", m.performance_metrics) && r.strings(o, "tags", m.tags) &&
            r.string(o, "source_url", m.source_url) && r.string(o, "license", m.license) &&
            r.string(o, "description", m.description) && r.time(o, "created_at", m.created_at) &&
            r.time(o, "updated_at", m.updated_at);
  if (ok) {
    if (auto* v = store_reader::get(o, "model_type")) {
      auto t = v->is_string() ? parse_model_type(v->get_string()) : std::nullopt;
      if (!t) ok = r.fail("model_type", "should be a model type such as \"language_model\"");
      else m.model_type = *t;
    }
  }
  if (ok) {
    if (auto* v = store_reader::get(o, "repository_structure")) {
      repo_structure s;
      ok = read_structure(*v, s, r);
      if (ok) m.repository_structure = std::move(s);
    }
  }
  if (!ok) return errc::invalid_argument;
  for (const auto& kv : o)
    if (!is_model_field(kv.key())) m.extra.emplace(kv.key(), kv.value());
  return m;
}

HFMM_DECL bool catalog_text::add(std::string_view model_id, const json::value& record) {
  text_ += first_ ? "{" : ",";
  first_ = false;
  text_ += json::serialize(json::value(model_id));
  text_ += ':';
  text_ += json::serialize(record);
  return text_.size() >= piece_bytes;
}

HFMM_DECL void catalog_text::finish() {
  if (first_) text_ += "{";
  first_ = false;
  text_ += "}";
}

#endif  // HFMM_DEFINE_BODIES
}  // namespace hfmm::detail

namespace hfmm {

#if HFMM_DEFINE_BODIES
HFMM_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const io_spec& v) {
  jv = detail::write_io_spec(v);
}
HFMM_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const file_entry& v) {
  detail::write_file_entry(jv.emplace_object(), v);
}
HFMM_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const repo_structure& v) {
  detail::write_structure(jv.emplace_object(), v);
}
HFMM_DECL void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const model_metadata& v) {
  detail::write_model_record(jv.emplace_object(), v);
}

HFMM_DECL result<io_spec> tag_invoke(boost::json::try_value_to_tag<io_spec>, const boost::json::value& jv) {
  detail::store_reader r(nullptr, "io_spec");
  io_spec s;
  if (!detail::read_io_spec(jv, s, r)) return errc::invalid_argument;
  return s;
}
HFMM_DECL result<file_entry> tag_invoke(boost::json::try_value_to_tag<file_entry>, const boost::json::value& jv) {
  detail::store_reader r(nullptr, "file_entry");
  file_entry e;
  if (!detail::read_file_entry(jv, e, r)) return errc::invalid_argument;
  return e;
}
HFMM_DECL result<repo_structure> tag_invoke(boost::json::try_value_to_tag<repo_structure>, const boost::json::value& jv) {
  detail::store_reader r(nullptr, "repository_structure");
  repo_structure s;
  if (!detail::read_structure(jv, s, r)) return errc::invalid_argument;
  return s;
}
HFMM_DECL result<model_metadata> tag_invoke(boost::json::try_value_to_tag<model_metadata>, const boost::json::value& jv) {
  return detail::read_model(jv, nullptr);
}
#endif  // HFMM_DEFINE_BODIES

}  // namespace hfmm
