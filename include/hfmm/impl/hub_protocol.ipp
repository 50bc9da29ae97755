#pragma once
// Bodies of <hfmm/detail/hub_protocol.hpp>.

#include <boost/json/parse.hpp>

namespace hfmm::detail {

HFMM_DECL bool valid_repo_id_segment(std::string_view s) {
  if (s.empty() || s.size() > 96 || s == "." || s == ".." || s.starts_with("--") || s.ends_with("--")) return false;
  for (unsigned char c : s)
    if (!(ascii_alnum(static_cast<char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

HFMM_DECL result<repo_ref> parse_repo_id(std::string_view text) {
  repo_ref ref;
  for (auto type : {repo_type::dataset, repo_type::space})
    if (auto prefix = repo_url_prefix(type); text.starts_with(prefix)) ref.type = type, text.remove_prefix(prefix.size());
  if (ref.type == repo_type::model && text.starts_with("models/")) text.remove_prefix(7);  // the API's spelling
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (!valid_repo_id_segment(text)) return errc::invalid_argument;
  } else if (!valid_repo_id_segment(text.substr(0, slash)) || !valid_repo_id_segment(text.substr(slash + 1))) {
    return errc::invalid_argument;
  }
  ref.id = text;
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

HFMM_DECL result<std::string> parse_revision_sha(std::string_view body) {
  auto jv = parse_json_body(body);
  if (!jv || !jv->is_object()) return errc::bad_response;
  auto* sha = jv->get_object().if_contains("sha");
  if (!sha || !sha->is_string() || !is_lower_hex(sha->get_string(), 40)) return errc::bad_response;
  return std::string(sha->get_string());
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
