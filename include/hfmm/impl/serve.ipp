#pragma once
// Bodies of <hfmm/serve.hpp> that do no I/O: request targets, ranges and the answers.

#include <hfmm/detail/hex.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace hfmm::detail {

namespace serve_impl {

/// The '/'-separated segments of a path, decoded; nullopt when one is empty, "." or "..".
inline std::optional<std::vector<std::string>> decoded_segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = percent_decode(path.substr(0, slash));
    if (segment.empty() || segment == "." || segment == ".." || segment.find('\0') != std::string::npos) return std::nullopt;
    out.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return std::nullopt;  // a trailing slash: an empty last segment
  }
  return out;
}

/// Segments [from, end) as a repository path; nullopt when one held an encoded '/' ("..%2F" would
/// otherwise become a ".." segment of the joined path). Only a revision may hold one (refs%2Fpr%2F1).
inline std::optional<std::string> joined(const std::vector<std::string>& segments, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < segments.size(); ++i) {
    if (segments[i].find('/') != std::string::npos) return std::nullopt;
    out.append(i > from ? "/" : "").append(segments[i]);
  }
  return out;
}

/// The repo id of segments [from, from + n), when it is one.
inline std::optional<repo_ref> repo_of(const std::vector<std::string>& s, std::size_t from, std::size_t n, repo_type type) {
  if (from + n > s.size()) return std::nullopt;
  std::string id = n == 2 ? s[from] + "/" + s[from + 1] : s[from];
  if (!repo_id_body_problem(id).empty()) return std::nullopt;
  return repo_ref{type, std::move(id)};
}

inline std::optional<repo_type> type_of_collection(std::string_view name) {
  for (auto t : {repo_type::model, repo_type::dataset, repo_type::space})
    if (repo_collection(t) == name) return t;
  return std::nullopt;
}

}  // namespace serve_impl

HFMM_DECL api_request parse_api_target(std::string_view target) {
  using namespace serve_impl;
  api_request r;
  if (!target.starts_with('/') || target.size() > 8192) return r;
  for (unsigned char c : target)  // not a request-target (RFC 9112): spaces, controls
    if (c <= 0x20 || c == 0x7F) return r;
  auto question = target.find('?');
  r.path_part = std::string(target.substr(0, question));
  if (question != std::string_view::npos) r.query = std::string(target.substr(question + 1));
  auto parsed = decoded_segments(std::string_view(r.path_part).substr(1));
  if (!parsed) return r;
  const auto& s = *parsed;
  if (s.size() == 2 && s[0] == "api" && s[1] == "whoami-v2") {
    r.call = api_call::whoami;
    return r;
  }
  // /api/{collection}/{id}[/{call}/...]: the id is org/name, or a legacy bare name.
  if (s.size() >= 3 && s[0] == "api") {
    auto type = type_of_collection(s[1]);
    if (!type) return r;
    if (s.size() <= 4) {  // model info: /api/models/{id}
      if (auto repo = repo_of(s, 2, s.size() - 2, *type)) r.call = api_call::model_info, r.repo = std::move(*repo);
    }
    for (std::size_t n : {2u, 1u}) {
      if (r.call != api_call::unknown || s.size() < 3 + n) continue;
      auto repo = repo_of(s, 2, n, *type);
      if (!repo) continue;
      const auto& call = s[2 + n];
      auto rest = s.size() - (3 + n);  // segments after the call's name
      if (call == "refs" && rest == 0) r.call = api_call::refs;
      else if (call == "revision" && rest == 1) r.call = api_call::revision;
      else if (call == "paths-info" && rest == 1) r.call = api_call::paths_info;
      else if (call == "tree" && rest >= 1) r.call = api_call::tree;
      else continue;
      auto path = joined(s, 4 + n);
      if (!path) return api_request{};
      r.repo = std::move(*repo);
      if (rest >= 1) r.revision = s[3 + n];
      r.path = std::move(*path);
    }
    return r;
  }
  // /[datasets/|spaces/]{id}/{resolve|raw}/{rev}/{path}
  std::size_t from = 0;
  repo_type type = repo_type::model;
  if (!s.empty() && (s[0] == "datasets" || s[0] == "spaces")) type = *type_of_collection(s[0]), from = 1;
  for (std::size_t n : {2u, 1u}) {
    if (s.size() < from + n + 3 || (s[from + n] != "resolve" && s[from + n] != "raw")) continue;
    auto repo = repo_of(s, from, n, type);
    auto path = joined(s, from + n + 2);
    if (!repo || !path) continue;
    r.call = s[from + n] == "raw" ? api_call::raw : api_call::resolve;
    r.repo = std::move(*repo);
    r.revision = s[from + n + 1];
    r.path = std::move(*path);
    return r;
  }
  return r;
}

HFMM_DECL std::vector<std::string> query_values(std::string_view query, std::string_view key) {
  std::vector<std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    std::string name = percent_decode(pair.substr(0, eq));
    if (name == key) {
      auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      std::string spaced(value);
      std::replace(spaced.begin(), spaced.end(), '+', ' ');
      out.push_back(percent_decode(spaced));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

HFMM_DECL bool query_flag(std::string_view query, std::string_view key) {
  auto values = query_values(query, key);
  return !values.empty() && (values.front() == "1" || iequals(values.front(), "true"));
}

HFMM_DECL range_answer parse_range_request(std::string_view header, std::uint64_t size, byte_range& out) {
  if (!header.starts_with("bytes=")) return range_answer::whole;
  auto spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return range_answer::whole;  // several ranges: the whole file
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return range_answer::whole;
  auto number = [](std::string_view text) -> std::optional<std::uint64_t> {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
  };
  auto first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // the last n bytes
    auto n = number(last_text);
    if (!n) return range_answer::whole;
    if (*n == 0 || size == 0) return range_answer::unsatisfiable;
    out.length = std::min(*n, size);
    out.first = size - out.length;
    return range_answer::partial;
  }
  auto first = number(first_text);
  auto last = last_text.empty() ? std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()) : number(last_text);
  if (!first || !last || *last < *first) return range_answer::whole;  // not a valid range: ignored (RFC 9110)
  if (*first >= size) return range_answer::unsatisfiable;
  out.first = *first;
  out.length = std::min(*last, size - 1) - *first + 1;
  return range_answer::partial;
}

namespace serve_impl {

using header_list = std::vector<std::pair<std::string, std::string>>;

inline api_answer json_answer(unsigned status, const boost::json::value& body, header_list headers = {}) {
  api_answer a;
  a.status = status;
  a.headers = std::move(headers);
  a.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  a.body = boost::json::serialize(body);
  return a;
}

/// The Hub's error: `{"error": message}`, with X-Error-Code (when it has one) and X-Error-Message
/// (the message may quote the request: controls become '?', so it cannot end the header).
inline api_answer hub_error(unsigned status, std::string_view code, const std::string& message) {
  header_list headers;
  if (!code.empty()) headers.emplace_back("X-Error-Code", std::string(code));
  std::string in_header = message;
  for (auto& c : in_header)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  headers.emplace_back("X-Error-Message", std::move(in_header));
  return json_answer(status, boost::json::object{{"error", message}}, std::move(headers));
}

inline std::string bearer_token(std::string_view authorization) {
  if (authorization.size() > 7 && iequals(authorization.substr(0, 7), "Bearer ")) return std::string(authorization.substr(7));
  return {};
}

/// The entries of the tree at `folder` ("" the root) in the Hub's order: directories first, then
/// files, each by path; every level below it too when `recursive`. Indexes into `folders` and
/// into the files; nullopt when there is no such folder.
struct tree_listing {
  std::vector<std::size_t> folders, files;
  std::size_t size() const noexcept { return folders.size() + files.size(); }
};

inline std::optional<tree_listing> list_tree(const repo_structure& s, const folder_cache::folders& folders, std::string_view folder,
                                             bool recursive) {
  auto by_path = [](const auto& entry, std::string_view path) { return std::string_view(entry.first) < path; };
  if (!folder.empty()) {
    auto d = std::lower_bound(folders.begin(), folders.end(), folder, by_path);
    if (d == folders.end() || d->first != folder) return std::nullopt;
  }
  std::string prefix = folder.empty() ? std::string() : std::string(folder) + "/";
  auto below = [&](std::string_view path) {  // `path` starts with the prefix
    return path.size() > prefix.size() && (recursive || path.find('/', prefix.size()) == std::string_view::npos);
  };
  // Paths under a prefix are one run of a path-sorted list.
  tree_listing out;
  for (auto d = std::lower_bound(folders.begin(), folders.end(), prefix, by_path);
       d != folders.end() && d->first.starts_with(prefix); ++d)
    if (below(d->first)) out.folders.push_back(static_cast<std::size_t>(d - folders.begin()));
  auto f = std::lower_bound(s.files.begin(), s.files.end(), prefix,
                            [](const file_ref& r, std::string_view path) { return r.path() < path; });
  for (; f != s.files.end() && f->path().starts_with(prefix); ++f)
    if (below(f->path())) out.files.push_back(static_cast<std::size_t>(f - s.files.begin()));
  return out;
}

/// Where the catalog's file is on disk, checked against the catalog's size; empty when absent.
inline std::filesystem::path blob_path(const repo_structure& s, std::string_view catalog_id, const file_ref& f,
                                       const serve_options& o) {
  std::filesystem::path p;
  if (!o.local_dir.empty()) {
    if (!is_safe_repo_path(f.path())) return {};
    p = o.local_dir / std::string(catalog_id) / std::string(f.path());
  } else {
    auto etag = content_key(f);
    if (!is_lower_hex(etag, f.is_lfs() ? 64 : 40)) return {};
    p = (o.cache.empty() ? default_hf_cache() : o.cache) / hf_cache_folder_name(s) / "blobs" / etag;
  }
  struct stat st;
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) != f.size()) return {};
  return p;
}

inline api_answer resolve_answer(std::string_view method, const repo_structure& s, std::string_view catalog_id, const file_ref& f,
                                 const api_headers& h, const serve_options& o) {
  auto where = blob_path(s, catalog_id, f, o);
  if (where.empty())
    return hub_error(404, {},
                     std::string(f.path()) + " at " + s.commit_sha + " is in the catalog but not in this server's " +
                         (o.local_dir.empty() ? "cache" : "directory") + ": pull it there first (hfmm pull " +
                         std::string(catalog_id) + ")");
  std::string etag = "\"" + content_key(f) + "\"";
  api_answer a;
  a.headers = {{"Accept-Ranges", "bytes"},
               {"Content-Type", "application/octet-stream"},
               {"ETag", etag},
               {"X-Linked-Etag", etag},
               {"X-Linked-Size", std::to_string(f.size())},
               {"X-Repo-Commit", s.commit_sha}};
  byte_range range{0, f.size()};
  auto kind = range_answer::whole;
  if (!h.range.empty() && (h.if_range.empty() || h.if_range == etag)) kind = parse_range_request(h.range, f.size(), range);
  if (kind == range_answer::unsatisfiable) {
    a.status = 416;
    a.headers.emplace_back("Content-Range", "bytes */" + std::to_string(f.size()));
    return a;
  }
  if (kind == range_answer::partial) {
    a.status = 206;
    a.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                std::to_string(range.first + range.length - 1) + "/" + std::to_string(f.size()));
  }
  a.headers.emplace_back("Content-Length", std::to_string(range.length));
  if (method == "GET") a.file = served_file{std::move(where), range.first, range.length};
  return a;
}

}  // namespace serve_impl

HFMM_DECL std::shared_ptr<const folder_cache::folders> folder_cache::of(std::string_view catalog_id, const repo_structure& s) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(catalog_id);
  if (it == by_id_.end()) it = by_id_.emplace(std::string(catalog_id), entry{}).first;
  if (!it->second.list || it->second.commit != s.commit_sha)
    it->second = {s.commit_sha, std::make_shared<const folders>(git_tree_oids(s.files))};
  return it->second.list;
}

HFMM_DECL api_answer answer_api(std::string_view method, const api_request& request, const api_headers& h, std::string_view body,
                                const std::function<const model_metadata*(std::string_view)>& find_model,
                                folder_cache& folder_ids, const serve_options& o, bool secure) {
  using namespace serve_impl;
  auto token = bearer_token(h.authorization);
  bool allowed = std::find(o.tokens.begin(), o.tokens.end(), token) != o.tokens.end();
  if (!o.tokens.empty() && !allowed) {
    auto a = hub_error(401, {}, "Invalid username or password.");
    a.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"Authentication required\", charset=\"UTF-8\"");
    return a;
  }
  bool reads = method == "GET" || method == "HEAD";
  if (request.call == api_call::unknown) return hub_error(404, {}, "Sorry, we can't find the page you are looking for.");
  if (request.call == api_call::paths_info ? method != "POST" : !reads) {
    auto a = hub_error(405, {}, "Method not allowed");
    a.headers.emplace_back("Allow", request.call == api_call::paths_info ? "POST" : "GET, HEAD");
    return a;
  }
  if (request.call == api_call::whoami) {
    if (token.empty() || !allowed) return hub_error(401, {}, "Invalid username or password.");
    return json_answer(200, boost::json::object{{"type", "user"},
                                                {"name", "hfmm-serve"},
                                                {"auth", {{"type", "access_token"}, {"accessToken", {{"role", "read"}}}}}});
  }

  const auto catalog_id = display_id(request.repo);
  const model_metadata* m = find_model(catalog_id);
  const repo_structure* s = m && m->repository_structure ? &*m->repository_structure : nullptr;
  if (!s || s->repo_type != request.repo.type || s->commit_sha.empty())
    return hub_error(404, "RepoNotFound", "Repository not found");
  // A revision is the pinned branch or commit: the catalog knows no other.
  const auto& rev = request.revision;
  if (!rev.empty() && rev != "HEAD" && rev != s->branch && rev != s->commit_sha)
    return hub_error(404, "RevisionNotFound", "Invalid rev id: " + rev);

  switch (request.call) {
    case api_call::model_info:
    case api_call::revision:
      return json_answer(200, revision_answer(*m, query_flag(request.query, "blobs")));
    case api_call::refs: {
      boost::json::array branches;
      if (s->branch != s->commit_sha)
        branches.push_back(boost::json::object{{"name", s->branch}, {"ref", "refs/heads/" + s->branch}, {"targetCommit", s->commit_sha}});
      return json_answer(200, boost::json::object{{"tags", boost::json::array()}, {"branches", std::move(branches)},
                                                  {"converts", boost::json::array()}});
    }
    case api_call::tree: {
      auto folders = folder_ids.of(catalog_id, *s);
      auto listing = list_tree(*s, *folders, request.path, query_flag(request.query, "recursive"));
      if (!listing) return hub_error(404, "EntryNotFound", request.path + " does not exist on \"" + rev + "\"");
      std::size_t limit = o.tree_page_size, from = 0;
      if (auto l = query_values(request.query, "limit"); !l.empty()) {
        std::size_t asked = 0;
        if (std::from_chars(l.front().data(), l.front().data() + l.front().size(), asked).ec == std::errc() && asked > 0)
          limit = std::min(limit, asked);
      }
      if (auto c = query_values(request.query, "cursor"); !c.empty())
        if (std::from_chars(c.front().data(), c.front().data() + c.front().size(), from).ec != std::errc() ||
            from > listing->size())
          return hub_error(400, {}, "Invalid cursor");
      header_list headers;
      if (listing->size() - from > limit) {
        // The next page: this request's query with the cursor after this page.
        std::string query;
        for (std::string_view rest = request.query; !rest.empty();) {
          auto amp = rest.find('&');
          auto pair = rest.substr(0, amp);
          if (!pair.starts_with("cursor=") && !pair.empty()) query.append(query.empty() ? "" : "&").append(pair);
          if (amp == std::string_view::npos) break;
          rest.remove_prefix(amp + 1);
        }
        query.append(query.empty() ? "" : "&").append("cursor=").append(std::to_string(from + limit));
        auto base = !o.public_url.empty() ? o.public_url : std::string(secure ? "https://" : "http://") + std::string(h.host);
        headers.emplace_back("Link", "<" + base + request.path_part + "?" + query + ">; rel=\"next\"");
      }
      boost::json::array page;
      for (std::size_t i = from; i < listing->size() && i < from + limit; ++i) {
        if (i < listing->folders.size()) {
          const auto& [path, oid] = (*folders)[listing->folders[i]];
          page.push_back(tree_directory_entry(path, oid));
        } else {
          page.push_back(tree_file_entry(s->files[listing->files[i - listing->folders.size()]]));
        }
      }
      return json_answer(200, page, std::move(headers));
    }
    case api_call::paths_info: {
      std::vector<std::string> paths;
      if (h.content_type.starts_with("application/json")) {
        boost::system::error_code ec;
        auto jv = boost::json::parse(body, ec);
        const auto* list = !ec && jv.is_object() ? jv.get_object().if_contains("paths") : nullptr;
        if (!list || !list->is_array()) return hub_error(400, {}, "Expected a JSON object with a \"paths\" array");
        for (const auto& p : list->get_array())
          if (p.is_string()) paths.emplace_back(p.get_string());
      } else {
        paths = query_values(body, "paths");
      }
      auto folders = folder_ids.of(catalog_id, *s);
      const auto& directories = *folders;
      boost::json::array out;
      for (const auto& p : paths) {
        if (auto f = s->files.find_ref(p)) out.push_back(tree_file_entry(*f));
        else if (auto d = std::lower_bound(directories.begin(), directories.end(), std::make_pair(p, std::string()));
                 d != directories.end() && d->first == p)
          out.push_back(tree_directory_entry(d->first, d->second));
      }
      return json_answer(200, out);
    }
    case api_call::resolve:
    case api_call::raw: {
      auto f = s->files.find_ref(request.path);
      if (!f) return hub_error(404, "EntryNotFound", "Entry not found");
      if (auto lfs = f->lfs(); lfs && request.call == api_call::raw) {  // git holds the pointer
        api_answer a;
        a.body = lfs_pointer_text(lfs->sha256, lfs->size);
        a.headers = {{"Content-Type", "text/plain; charset=utf-8"}, {"ETag", "\"" + f->oid() + "\""}, {"X-Repo-Commit", s->commit_sha}};
        return a;
      }
      return resolve_answer(method, *s, catalog_id, *f, h, o);
    }
    default:
      return hub_error(404, {}, "Sorry, we can't find the page you are looking for.");
  }
}

}  // namespace hfmm::detail
