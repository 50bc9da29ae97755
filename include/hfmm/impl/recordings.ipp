#pragma once
// Bodies of <hfmm/detail/recordings.hpp>.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>

namespace hfmm::detail {

HFMM_DECL std::pair<std::string, std::vector<std::pair<std::string, std::string>>> split_target(std::string_view url) {
  url.remove_prefix(url_origin(url).size());
  auto q = url.find('?');
  std::vector<std::pair<std::string, std::string>> params;
  if (q != std::string_view::npos) {
    auto query = url.substr(q + 1);
    while (!query.empty()) {
      auto amp = query.find('&');
      auto item = query.substr(0, amp);
      auto eq = item.find('=');
      params.emplace_back(percent_decode(item.substr(0, eq)),
                          eq == std::string_view::npos ? std::string() : percent_decode(item.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return {std::string(url.substr(0, q)), std::move(params)};
}

HFMM_DECL std::string repo_key_of(std::string_view path) {
  if (!path.starts_with("/api/")) return {};
  path.remove_prefix(5);
  auto type_end = path.find('/');
  if (type_end == std::string_view::npos) return {};
  auto type = path.substr(0, type_end);
  if (type != repo_collection(repo_type::model) && type != repo_collection(repo_type::dataset) &&
      type != repo_collection(repo_type::space))
    return {};
  std::vector<std::string_view> segments;
  for (auto rest = path.substr(type_end + 1); !rest.empty();) {
    auto slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  static constexpr std::string_view verbs[] = {"revision", "tree", "paths-info", "treesize", "refs", "commits"};
  std::size_t id_len = std::min<std::size_t>(segments.size(), 2);
  for (std::size_t i = 1; i < segments.size() && i <= 2; ++i)
    if (std::find(std::begin(verbs), std::end(verbs), segments[i]) != std::end(verbs)) {
      id_len = i;
      break;
    }
  std::string key(type);
  for (std::size_t i = 0; i < id_len; ++i) key += "/" + percent_decode(segments[i]);
  return key;
}

HFMM_DECL bool paths_equal_ignoring_escape_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    bool in_escape = (i >= 1 && a[i - 1] == '%') || (i >= 2 && a[i - 2] == '%');
    if (!in_escape || ascii_lower(a[i]) != ascii_lower(b[i]))
      return false;
  }
  return true;
}

HFMM_DECL result<recording_set> recording_set::load(const std::filesystem::path& dir) {
  auto index = dir / "recordings.json";
  std::error_code fs_ec;
  if (!std::filesystem::exists(index, fs_ec)) return errc::file_not_found;
  auto text = read_file(index);
  if (!text) return text.error();
  error_code ec;
  auto root = boost::json::parse(*text, ec);
  if (ec || !root.is_object()) return errc::bad_response;
  auto* exchanges = root.get_object().if_contains("exchanges");
  if (!exchanges || !exchanges->is_array()) return errc::bad_response;
  recording_set set;
  for (const auto& x : exchanges->get_array()) {
    auto* req = x.is_object() ? x.get_object().if_contains("request") : nullptr;
    auto* res = x.is_object() ? x.get_object().if_contains("response") : nullptr;
    if (!req || !req->is_object() || !res || !res->is_object()) return errc::bad_response;
    const auto& rq = req->get_object();
    const auto& rs = res->get_object();
    auto* method = rq.if_contains("method");
    auto* target = rq.if_contains("target");
    auto* status = rs.if_contains("status");
    if (!method || !method->is_string() || !target || !target->is_string() || !status || !status->is_int64())
      return errc::bad_response;
    recorded_exchange e;
    e.method = method->get_string();
    std::tie(e.path, e.query) = split_target(target->get_string());
    e.repo_key = repo_key_of(e.path);
    e.response.status = static_cast<unsigned>(status->get_int64());
    if (auto* headers = rs.if_contains("headers"); headers && headers->is_object())
      for (const auto& h : headers->get_object())
        if (h.value().is_string()) e.response.headers.emplace_back(h.key(), h.value().get_string());
    if (auto* file = rs.if_contains("body_file"); file && file->is_string()) {
      auto body = read_file(dir / std::string(file->get_string()));
      if (!body) return body.error();
      e.response.body = std::move(*body);
    } else if (auto* body = rs.if_contains("body")) {
      e.response.body = boost::json::serialize(*body);
    }
    set.known_repos_[e.repo_key] = true;
    set.exchanges_.push_back(std::move(e));
  }
  return set;
}

HFMM_DECL http_response recording_set::answer(std::string_view url) const {
  auto split = split_target(url);  // not a structured binding: lambdas capture it (clang 14)
  const auto& path = split.first;
  const auto& query = split.second;
  const recorded_exchange* best = nullptr;
  for (const auto& e : exchanges_) {
    if (e.method != "GET" || !paths_equal_ignoring_escape_case(e.path, path)) continue;
    bool all = std::all_of(e.query.begin(), e.query.end(), [&](const auto& kv) {
      return std::find(query.begin(), query.end(), kv) != query.end();
    });
    if (all && (!best || e.query.size() > best->query.size())) best = &e;
  }
  if (best) return best->response;
  auto key = repo_key_of(path);
  if (known_repos_.count(key)) {
    http_response r;
    if (path.find("/revision/") != std::string::npos) {
      r.unrecorded = true;  // list at the branch itself, commit unknown
      r.status = 200;
    } else {
      r.status = 404;
      r.headers.emplace_back("X-Error-Message", "not recorded");
    }
    return r;
  }
  // A repo that appears in no exchange: what the Hub answers an anonymous caller.
  http_response r;
  r.status = 401;
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  r.headers.emplace_back("X-Error-Message", "Invalid username or password.");
  r.body = R"({"error":"Invalid username or password."})";
  return r;
}

HFMM_DECL result<std::string> recording_set::read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return errc::file_not_found;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errc::storage_io;
  return std::move(ss).str();
}

}  // namespace hfmm::detail
