#pragma once
// The Hub protocol without I/O: repo ids, request targets, response classification and the
// parsers for revision answers, tree pages and Link headers. The Hub fetcher and the
// recording replay of mock_fetcher both drive exactly these functions.

#include <hfmm/error.hpp>
#include <hfmm/structure.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfmm::detail {

struct repo_ref {
  hfmm::repo_type type = repo_type::model;
  std::string id;  ///< "org/name" or a legacy bare "name", without the datasets/ or spaces/ prefix
};

inline bool valid_repo_id_segment(std::string_view s) {
  if (s.empty() || s.size() > 96 || s == "." || s == ".." || s.starts_with("--") || s.ends_with("--")) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

/// Parses "org/name", a legacy bare "name", and "datasets/org/name" / "spaces/org/name".
/// Anything that could change the URL path (slashes beyond these, "..", escapes) is refused.
inline result<repo_ref> parse_repo_id(std::string_view text) {
  repo_ref ref;
  if (text.starts_with("datasets/")) ref.type = repo_type::dataset, text.remove_prefix(9);
  else if (text.starts_with("spaces/")) ref.type = repo_type::space, text.remove_prefix(7);
  else if (text.starts_with("models/")) text.remove_prefix(7);
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (!valid_repo_id_segment(text)) return errc::invalid_argument;
  } else if (!valid_repo_id_segment(text.substr(0, slash)) || !valid_repo_id_segment(text.substr(slash + 1))) {
    return errc::invalid_argument;
  }
  ref.id = text;
  return ref;
}

/// The repo id as the catalog and the Hub's web URLs spell it ("datasets/org/name" for datasets).
inline std::string display_id(const repo_ref& ref) {
  switch (ref.type) {
    case repo_type::dataset: return "datasets/" + ref.id;
    case repo_type::space: return "spaces/" + ref.id;
    default: return ref.id;
  }
}

inline std::string api_prefix(const repo_ref& ref) {
  std::string t = "/api/";
  t += ref.type == repo_type::dataset ? "datasets/" : ref.type == repo_type::space ? "spaces/" : "models/";
  t += ref.id;  // validated: only [A-Za-z0-9._-] and one '/'
  return t;
}

inline bool valid_revision(std::string_view rev) { return !rev.empty() && rev.size() <= 256; }

inline std::string revision_target(const repo_ref& ref, std::string_view revision) {
  auto t = api_prefix(ref) + "/revision/";
  append_encoded_segment(t, revision);
  return t;
}

inline std::string tree_target(const repo_ref& ref, std::string_view revision) {
  auto t = api_prefix(ref) + "/tree/";
  append_encoded_segment(t, revision);
  t += "?recursive=true";
  return t;
}

/// One HTTP answer as the protocol needs it.
struct http_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Set only by the recording replay: "no revision answer was recorded" (list at the branch).
  bool unrecorded = false;
  /// Whether the request carried the token (a 401 then means "rejected", not "private").
  bool token_sent = false;

  std::string_view header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers)
      if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          }))
        return v;
    return {};
  }
};

/// Maps a final (non-2xx) answer to an errc; a 2xx gives an empty error_code.
inline error_code classify_response(const http_response& r) {
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

/// Parses a whole body as JSON; anything else (truncated, trailing bytes) is bad_response.
inline result<boost::json::value> parse_json_body(std::string_view body) {
  error_code ec;
  auto jv = boost::json::parse(body, ec);
  if (ec) return errc::bad_response;
  return jv;
}

/// The commit sha of a /revision/ answer: {"sha": "<40 hex>", ...}.
inline result<std::string> parse_revision_sha(std::string_view body) {
  auto jv = parse_json_body(body);
  if (!jv || !jv->is_object()) return errc::bad_response;
  auto* sha = jv->get_object().if_contains("sha");
  if (!sha || !sha->is_string() || !is_lower_hex(sha->get_string(), 40)) return errc::bad_response;
  return std::string(sha->get_string());
}

inline std::optional<std::uint64_t> strict_unsigned(const boost::json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

/// Sizes beyond this are not real files (the largest Hub files are a few hundred GB).
inline constexpr std::uint64_t max_plausible_file_size = 1ull << 50;

/// Appends the files of one tree page (a JSON array) to `files`; directories are skipped.
/// Strict: wrong types, missing keys, non-hex digests or absurd sizes → bad_response.
/// `entries` counts every entry seen so far, against `max_entries`.
inline result<void> parse_tree_page(std::string_view body, file_table& files, std::size_t& entries,
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

/// The target of `Link: <url>; rel="next"`, when there is one.
inline std::optional<std::string> parse_link_next(std::string_view header) {
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

/// Splits "scheme://host[:port]" off a URL; empty when the URL has no origin.
inline std::string_view url_origin(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos || url.find('/') < scheme) return {};
  auto path = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, path);
}

/// Resolves a Link target against the URL (or origin-less target) it came from.
inline std::string resolve_reference(std::string_view base, std::string_view ref) {
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
