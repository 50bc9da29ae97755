#pragma once
// Bodies of <hfmm/detail/hub_protocol.hpp>.

#include <hfmm/detail/digest.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/time.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>

#include <map>

namespace hfmm::detail {

/// What is wrong with one part ("org" or "name") of a repo id; empty when nothing is.
HFMM_DECL std::string_view repo_id_part_problem(std::string_view s) {
  if (s.empty()) return "a repo id part is empty: write org/name or name";
  if (s.size() > 96) return "a repo id part is longer than 96 characters";
  for (char c : s)
    if (!(ascii_alnum(c) || c == '-' || c == '_' || c == '.'))
      return "a repo id may hold only letters, digits, '-', '_' and '.' (and one '/' between org and name)";
  auto word = [](char c) { return ascii_alnum(c) || c == '_'; };
  if (!word(s.front()) || !word(s.back())) return "a repo id part must start and end with a letter, digit or '_'";
  if (s.find("--") != std::string_view::npos || s.find("..") != std::string_view::npos)
    return "a repo id may not contain \"--\" or \"..\"";
  return {};
}

/// The repo id without its datasets/ or spaces/ (or the API's models/) prefix.
HFMM_DECL repo_ref split_repo_type(std::string_view text) {
  repo_ref ref;
  for (auto type : {repo_type::dataset, repo_type::space})
    if (auto prefix = repo_url_prefix(type); text.starts_with(prefix)) ref.type = type, text.remove_prefix(prefix.size());
  if (ref.type == repo_type::model && text.starts_with("models/")) text.remove_prefix(7);  // the API's spelling
  ref.id = text;
  return ref;
}

HFMM_DECL std::string_view repo_id_body_problem(std::string_view id) {
  auto slash = id.find('/');
  if (slash == std::string_view::npos) return repo_id_part_problem(id);
  if (auto p = repo_id_part_problem(id.substr(0, slash)); !p.empty()) return p;
  return repo_id_part_problem(id.substr(slash + 1));
}

HFMM_DECL result<repo_ref> parse_repo_id(std::string_view text) {
  auto ref = split_repo_type(text);
  if (!repo_id_body_problem(ref.id).empty()) return errc::invalid_argument;
  return ref;
}

HFMM_DECL std::string display_id(const repo_ref& ref) { return std::string(repo_url_prefix(ref.type)) + ref.id; }

HFMM_DECL std::string api_prefix(const repo_ref& ref) {
  std::string t = "/api/";
  t.append(repo_collection(ref.type)).append("/");
  t += ref.id;  // validated: only [A-Za-z0-9._-] and one '/'
  return t;
}

HFMM_DECL std::string revision_target(const repo_ref& ref, std::string_view revision) {
  auto t = api_prefix(ref) + "/revision/";
  append_encoded_segment(t, revision);
  return t;
}

HFMM_DECL std::string revision_with_blobs_target(const repo_ref& ref, std::string_view revision) {
  return revision_target(ref, revision) + "?blobs=true";
}

HFMM_DECL std::string tree_target(const repo_ref& ref, std::string_view revision) {
  auto t = api_prefix(ref) + "/tree/";
  append_encoded_segment(t, revision);
  t += "?recursive=true";
  return t;
}

HFMM_DECL error_code classify_response(const http_response& r) {
  if (r.status >= 200 && r.status < 300) return {};
  auto code = r.header("X-Error-Code");
  if (code == "GatedRepo") return errc::gated;
  if (code == "RepoNotFound") return errc::repo_not_found;
  if (code == "RevisionNotFound") return errc::revision_not_found;
  if (code == "EntryNotFound") return errc::file_not_found;
  if (r.status == 401) return r.token_sent ? errc::token_rejected : errc::unauthorized;
  if (r.status == 429) return errc::rate_limited;
  return errc::http_status;
}

HFMM_DECL result<boost::json::value> parse_json_body(std::string_view body) {
  error_code ec;
  auto jv = boost::json::parse(body, ec);
  if (ec) return errc::bad_response;
  return jv;
}

HFMM_DECL result<std::string> revision_sha(const boost::json::value& answer) {
  const auto* sha = answer.is_object() ? answer.get_object().if_contains("sha") : nullptr;
  if (!sha || !sha->is_string() || !is_lower_hex(sha->get_string(), 40)) return errc::bad_response;
  return std::string(sha->get_string());
}

HFMM_DECL result<std::string> parse_revision_sha(std::string_view body) {
  auto jv = parse_json_body(body);
  if (!jv) return jv.error();
  return revision_sha(*jv);
}

/// The string at `key`, or nullptr when absent or of another type.
HFMM_DECL const boost::json::string* string_member(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

/// The strings of an array at `key` (other elements skipped), or of a lone string there.
HFMM_DECL std::vector<std::string> strings_member(const boost::json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) out.emplace_back(v->get_string());
  if (v && v->is_array())
    for (const auto& e : v->get_array())
      if (e.is_string()) out.emplace_back(e.get_string());
  return out;
}

HFMM_DECL result<void> parse_revision_answer(std::string_view body, fetched_model& out) {
  auto jv = parse_json_body(body);
  if (!jv) return jv.error();
  auto sha = revision_sha(*jv);
  if (!sha) return sha.error();
  out.structure.commit_sha = std::move(*sha);
  const auto& a = jv->get_object();
  auto& info = out.structure.model_info.emplace();
  if (const auto* s = string_member(a, "pipeline_tag")) info.pipeline_tag = *s;
  if (const auto* s = string_member(a, "library_name")) info.library_name = *s;
  if (const auto* s = string_member(a, "gated")) info.gated = *s;  // false, "auto" or "manual"
  if (const auto* v = a.if_contains("private"); v && v->is_bool()) info.is_private = v->get_bool();
  if (const auto* v = a.if_contains("disabled"); v && v->is_bool()) info.disabled = v->get_bool();
  auto time = [&](std::string_view key, timestamp& to) {
    if (const auto* s = string_member(a, key))
      if (auto t = parse_timestamp(*s)) to = *t;
  };
  time("lastModified", info.last_modified);
  time("createdAt", info.created_at);
  if (const auto* st = a.if_contains("safetensors"); st && st->is_object()) {
    if (const auto* p = st->get_object().if_contains("parameters"); p && p->is_object())
      for (const auto& kv : p->get_object())
        if (auto n = strict_unsigned(&kv.value())) info.parameters.emplace_back(std::string(kv.key()), *n);
    std::sort(info.parameters.begin(), info.parameters.end());  // one order, whatever store keeps it
    info.total_parameters = strict_unsigned(st->get_object().if_contains("total")).value_or(0);
  }
  if (const auto* c = a.if_contains("config"); c && c->is_object()) out.config = c->get_object();
  out.tags = strings_member(a, "tags");
  if (const auto* card = a.if_contains("cardData"); card && card->is_object()) {
    const auto& cd = card->get_object();
    if (auto licences = strings_member(cd, "license"); !licences.empty()) out.license = std::move(licences.front());
    info.base_models = strings_member(cd, "base_model");
  }
  if (!out.license)  // repos without a card still carry their licence as a "license:<id>" tag
    for (const auto& t : out.tags)
      if (t.starts_with("license:")) out.license = t.substr(8);
  return {};
}

HFMM_DECL std::optional<std::uint64_t> strict_unsigned(const boost::json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

HFMM_DECL result<void> parse_tree_page(std::string_view body, file_table& files, std::size_t& entries,
                                       std::size_t max_entries) {
  auto jv = parse_json_body(body);
  if (!jv || !jv->is_array()) return errc::bad_response;
  for (const auto& item : jv->get_array()) {
    if (++entries > max_entries) return errc::bad_response;
    if (!item.is_object()) return errc::bad_response;
    const auto& o = item.get_object();
    auto* type = o.if_contains("type");
    auto* path = o.if_contains("path");
    auto* oid = o.if_contains("oid");
    if (!type || !type->is_string() || !path || !path->is_string() || path->get_string().empty())
      return errc::bad_response;
    if (type->get_string() != "file") continue;  // "directory" (and anything newer) holds no content
    auto size = strict_unsigned(o.if_contains("size"));
    if (!size || *size > max_plausible_file_size || !oid || !oid->is_string() || !is_lower_hex(oid->get_string(), 40))
      return errc::bad_response;
    file_entry e;
    e.size = *size;
    e.oid = oid->get_string();
    if (auto* lfs = o.if_contains("lfs"); lfs && !lfs->is_null()) {
      if (!lfs->is_object()) return errc::bad_response;
      const auto& l = lfs->get_object();
      auto* sha = l.if_contains("oid");
      auto lsize = strict_unsigned(l.if_contains("size"));
      auto psize = strict_unsigned(l.if_contains("pointerSize"));
      if (!sha || !sha->is_string() || !is_lower_hex(sha->get_string(), 64) || !lsize || !psize || *psize > 1024)
        return errc::bad_response;
      e.lfs = lfs_info{std::string(sha->get_string()), *lsize, static_cast<std::uint32_t>(*psize)};
    }
    if (auto* xet = o.if_contains("xetHash"); xet && !xet->is_null()) {
      if (!xet->is_string() || xet->get_string().empty() || xet->get_string().size() > 128) return errc::bad_response;
      e.xet_hash = std::string(xet->get_string());
    }
    std::string_view p(path->get_string().data(), path->get_string().size());
    e.download_url = files.url_prefix();
    append_encoded_path(e.download_url, p);
    file_table_access::append(files, p, e);
  }
  return {};
}

HFMM_DECL bool parse_revision_siblings(std::string_view body, file_table& files, std::size_t max_trusted) {
  auto jv = parse_json_body(body);
  const auto* siblings = jv && jv->is_object() ? jv->get_object().if_contains("siblings") : nullptr;
  if (!siblings || !siblings->is_array() || siblings->get_array().size() >= max_trusted) return false;
  auto give_up = [&] {
    files.clear();
    return false;
  };
  for (const auto& item : siblings->get_array()) {
    const auto* o = item.if_object();
    if (!o) return give_up();
    const auto* name = o->if_contains("rfilename");
    const auto* blob = o->if_contains("blobId");
    auto size = strict_unsigned(o->if_contains("size"));
    if (!name || !name->is_string() || name->get_string().empty() || !blob || !blob->is_string() ||
        !is_lower_hex(blob->get_string(), 40) || !size || *size > max_plausible_file_size)
      return give_up();
    file_entry e;
    e.size = *size;
    e.oid = blob->get_string();
    if (const auto* lfs = o->if_contains("lfs"); lfs && !lfs->is_null()) {
      const auto* l = lfs->if_object();
      const auto* sha = l ? l->if_contains("sha256") : nullptr;
      auto lsize = l ? strict_unsigned(l->if_contains("size")) : std::nullopt;
      auto psize = l ? strict_unsigned(l->if_contains("pointerSize")) : std::nullopt;
      if (!sha || !sha->is_string() || !is_lower_hex(sha->get_string(), 64) || !lsize || !psize || *psize > 1024)
        return give_up();
      e.lfs = lfs_info{std::string(sha->get_string()), *lsize, static_cast<std::uint32_t>(*psize)};
    }
    std::string_view p(name->get_string().data(), name->get_string().size());
    e.download_url = files.url_prefix();
    append_encoded_path(e.download_url, p);
    file_table_access::append(files, p, e);
  }
  if (file_table_access::finish(files) != 0) return give_up();  // a name listed twice
  return true;
}

HFMM_DECL std::string hub_timestamp(timestamp t) { return format_timestamp(t).substr(0, 23) + "Z"; }

HFMM_DECL boost::json::object revision_answer(const model_metadata& m, bool blobs) {
  const auto& s = *m.repository_structure;
  boost::json::object a;
  a["_id"] = s.commit_sha.substr(0, 24);
  a["id"] = s.model_id;
  if (s.repo_type == repo_type::model) a["modelId"] = s.model_id;
  if (auto slash = s.model_id.find('/'); slash != std::string::npos) a["author"] = s.model_id.substr(0, slash);
  a["sha"] = s.commit_sha;
  const hub_model_info info = s.model_info.value_or(hub_model_info{});
  a["private"] = info.is_private;
  a["disabled"] = info.disabled;
  if (info.gated.empty()) a["gated"] = false;
  else a["gated"] = info.gated;
  if (!info.pipeline_tag.empty()) a["pipeline_tag"] = info.pipeline_tag;
  if (!info.library_name.empty()) a["library_name"] = info.library_name;
  if (info.last_modified != timestamp{}) a["lastModified"] = hub_timestamp(info.last_modified);
  if (info.created_at != timestamp{}) a["createdAt"] = hub_timestamp(info.created_at);
  if (!info.parameters.empty() || info.total_parameters) {
    boost::json::object parameters;
    for (const auto& [dtype, n] : info.parameters) parameters[dtype] = n;
    a["safetensors"] = {{"parameters", std::move(parameters)}, {"total", info.total_parameters}};
  }
  if (m.huggingface_config) a["config"] = *m.huggingface_config;
  boost::json::array tags;
  for (const auto& t : m.tags) tags.emplace_back(t);
  a["tags"] = std::move(tags);
  boost::json::object card;
  if (m.license) card["license"] = *m.license;
  if (!info.base_models.empty()) {
    boost::json::array bases;
    for (const auto& b : info.base_models) bases.emplace_back(b);
    card["base_model"] = std::move(bases);
  }
  if (!card.empty()) a["cardData"] = std::move(card);
  boost::json::array siblings;
  siblings.reserve(s.files.size());
  for (auto f : s.files) {
    boost::json::object sibling{{"rfilename", f.path()}};
    if (blobs) {
      sibling["blobId"] = f.oid();
      sibling["size"] = f.size();
      if (auto lfs = f.lfs()) sibling["lfs"] = {{"sha256", lfs->sha256}, {"size", lfs->size}, {"pointerSize", lfs->pointer_size}};
    }
    siblings.emplace_back(std::move(sibling));
  }
  a["siblings"] = std::move(siblings);
  return a;
}

HFMM_DECL boost::json::object tree_file_entry(const file_ref& f) {
  boost::json::object e{{"type", "file"}, {"oid", f.oid()}, {"size", f.size()}, {"path", f.path()}};
  if (auto lfs = f.lfs()) e["lfs"] = {{"oid", lfs->sha256}, {"size", lfs->size}, {"pointerSize", lfs->pointer_size}};
  return e;
}

HFMM_DECL boost::json::object tree_directory_entry(std::string_view path, std::string_view oid) {
  return {{"type", "directory"}, {"oid", oid}, {"size", 0}, {"path", path}};
}

HFMM_DECL std::vector<std::pair<std::string, std::string>> git_tree_oids(const file_table& files) {
  // Each directory's entries: name, whether a tree, the 20-byte id (files' known, trees' filled
  // in deepest first).
  struct entry {
    std::string name;
    bool tree;
    std::string id;  // binary
  };
  std::map<std::string, std::vector<entry>, std::less<>> dirs;  // "" is the root
  auto binary = [](std::string_view hex) {  // blob ids in a file_table are 40 lower-case hex digits
    auto bytes = parse_lower_hex<20>(hex).value_or(std::array<std::uint8_t, 20>{});
    return std::string(bytes.begin(), bytes.end());
  };
  for (auto f : files) {
    std::string_view path = f.path();
    auto slash = path.rfind('/');
    std::string parent(slash == std::string_view::npos ? std::string_view() : path.substr(0, slash));
    bool known = dirs.contains(parent);
    dirs[parent].push_back({std::string(path.substr(slash + 1)), false, binary(f.oid())});
    while (!known && !parent.empty()) {  // a new directory: list it in its parent, and so on up
      auto up = parent.rfind('/');
      std::string grand = up == std::string::npos ? std::string() : parent.substr(0, up);
      known = dirs.contains(grand);
      dirs[grand].push_back({parent.substr(up + 1), true, {}});
      parent = std::move(grand);
    }
  }
  // Deepest first: a directory's id needs its subdirectories' ids.
  std::vector<std::string> order;
  for (const auto& d : dirs) order.push_back(d.first);
  auto depth = [](const std::string& p) { return p.empty() ? 0 : 1 + std::count(p.begin(), p.end(), '/'); };
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) { return depth(a) > depth(b); });
  std::map<std::string, std::string, std::less<>> ids;  // directory → hex tree id
  for (const auto& dir : order) {
    auto& entries = dirs[dir];
    for (auto& e : entries)
      if (e.tree) e.id = binary(ids.at(dir.empty() ? e.name : dir + "/" + e.name));
    // git orders entries by name, a tree's name as if it ended in '/'.
    std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
      return (a.tree ? a.name + "/" : a.name) < (b.tree ? b.name + "/" : b.name);
    });
    std::string body;
    for (const auto& e : entries) body.append(e.tree ? "40000 " : "100644 ").append(e.name).append(1, '\0').append(e.id);
    auto h = hasher::sha1();
    auto header = "tree " + std::to_string(body.size());
    h.update(header.data(), header.size() + 1);  // with the terminating NUL
    h.update(body);
    ids[dir] = h.hex_final();
  }
  ids.erase("");  // the root is not a directory entry
  return {ids.begin(), ids.end()};
}

HFMM_DECL std::string listing_target(const repo_listing_query& q, std::size_t page_size) {
  std::string t = "/api/";
  t.append(repo_collection(q.repo_type)).append("?");
  for (const auto& [key, value] : {std::pair<std::string_view, const std::string&>{"author", q.author},
                                   {"search", q.search}, {"filter", q.filter}, {"pipeline_tag", q.pipeline_tag},
                                   {"sort", q.sort}}) {
    if (value.empty()) continue;
    t.append(key).append("=");
    append_encoded_segment(t, value);
    t += "&";
  }
  if (!q.sort.empty()) t += "direction=-1&";
  t += "expand%5B%5D=sha&limit=" + std::to_string(page_size);
  return t;
}

HFMM_DECL result<void> parse_listing_page(std::string_view body, repo_type type, std::vector<listed_repo>& out) {
  auto jv = parse_json_body(body);
  if (!jv || !jv->is_array()) return errc::bad_response;
  for (const auto& item : jv->get_array()) {
    const auto* o = item.if_object();
    const auto* id = o ? string_member(*o, "id") : nullptr;
    if (!id) return errc::bad_response;
    auto ref = parse_repo_id(std::string(repo_url_prefix(type)) + std::string(*id));
    if (!ref || ref->type != type) return errc::bad_response;
    listed_repo r{display_id(*ref), {}};
    if (const auto* sha = o->if_contains("sha"); sha && !sha->is_null()) {
      if (!sha->is_string() || !is_lower_hex(sha->get_string(), 40)) return errc::bad_response;
      r.sha = sha->get_string();
    }
    out.push_back(std::move(r));
  }
  return {};
}

HFMM_DECL std::optional<std::string> parse_link_next(std::string_view header) {
  while (!header.empty()) {
    auto open = header.find('<');
    if (open == std::string_view::npos) return std::nullopt;
    auto close = header.find('>', open);
    if (close == std::string_view::npos) return std::nullopt;
    auto url = header.substr(open + 1, close - open - 1);
    auto rest = header.substr(close + 1);
    auto next_link = rest.find(',');
    auto params = rest.substr(0, next_link);
    // rel="next" or rel=next, possibly among other relation types
    for (auto pos = params.find("rel="); pos != std::string_view::npos; pos = params.find("rel=", pos + 4)) {
      auto value = params.substr(pos + 4);
      bool quoted = value.starts_with('"');
      if (quoted) value.remove_prefix(1);
      auto end = value.find_first_of(quoted ? "\"" : "; ,");
      auto rels = value.substr(0, end);
      for (std::size_t i = 0; i <= rels.size();) {
        auto sp = rels.find(' ', i);
        if (rels.substr(i, sp - i) == "next") return std::string(url);
        if (sp == std::string_view::npos) break;
        i = sp + 1;
      }
    }
    if (next_link == std::string_view::npos) return std::nullopt;
    header = rest.substr(next_link + 1);
  }
  return std::nullopt;
}

HFMM_DECL std::string_view url_origin(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos || url.find('/') < scheme) return {};
  auto path = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, path);
}

HFMM_DECL std::string resolve_reference(std::string_view base, std::string_view ref) {
  if (!url_origin(ref).empty()) return std::string(ref);
  if (ref.starts_with("//")) {
    auto scheme = base.find("://");
    return std::string(scheme == std::string_view::npos ? "https:" : base.substr(0, scheme + 1)) + std::string(ref);
  }
  auto origin = url_origin(base);
  if (ref.starts_with('/')) return std::string(origin) + std::string(ref);
  auto rest = base.substr(origin.size());
  if (ref.starts_with('?')) return std::string(origin) + std::string(rest.substr(0, rest.find('?'))) + std::string(ref);
  auto dir = rest.substr(0, rest.substr(0, rest.find('?')).rfind('/') + 1);
  return std::string(origin) + std::string(dir) + std::string(ref);
}

}  // namespace hfmm::detail

namespace hfmm {

HFMM_DECL std::string_view repo_id_problem(std::string_view id) {
  return detail::repo_id_body_problem(detail::split_repo_type(id).id);
}

}  // namespace hfmm
