#pragma once
// Bodies of <hfmm/lock.hpp>.

#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/hub_protocol.hpp>
#include <hfmm/detail/posix_file.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>

namespace hfmm {

HFMM_DECL const locked_model* lock_file::find(std::string_view model_id) const noexcept {
  auto it = std::lower_bound(models.begin(), models.end(), model_id,
                             [](const locked_model& m, std::string_view id) { return m.model_id < id; });
  return it != models.end() && it->model_id == model_id ? &*it : nullptr;
}

namespace detail {

/// A JSON string literal for `s`, escaped.
HFMM_DECL std::string json_quoted(std::string_view s) {
  return boost::json::serialize(boost::json::string(boost::json::string_view(s.data(), s.size())));
}

}  // namespace detail

HFMM_DECL result<std::string> write_lock(std::span<const model_metadata* const> models, std::string* why) {
  using detail::json_quoted;
  std::vector<const model_metadata*> sorted(models.begin(), models.end());
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->model_id < b->model_id; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->model_id == b->model_id; }),
               sorted.end());
  std::string out = "{\n  \"hfmm_lock\": " + std::to_string(lock_format_version) + ",\n  \"models\": {";
  bool first_model = true;
  for (const auto* m : sorted) {
    const auto& s = m->repository_structure;
    if (!s || s->commit_sha.empty()) {
      if (why) *why = m->model_id + " has no repository structure pinned to a commit (run: hfmm refresh " + m->model_id + ")";
      return errc::invalid_argument;
    }
    out += first_model ? "\n" : ",\n";
    first_model = false;
    out += "    " + json_quoted(m->model_id) + ": {\n";
    out += "      \"repo\": " + json_quoted(s->model_id.empty() ? m->model_id : s->model_id) + ",\n";
    out += "      \"repo_type\": " + json_quoted(to_string(s->repo_type)) + ",\n";
    out += "      \"revision\": " + json_quoted(s->branch) + ",\n";
    out += "      \"commit\": " + json_quoted(s->commit_sha) + ",\n";
    if (m->license) out += "      \"license\": " + json_quoted(*m->license) + ",\n";
    if (const auto& info = s->model_info) {
      out += "      \"gated\": " + (info->gated.empty() ? std::string("false") : json_quoted(info->gated)) + ",\n";
      out += std::string("      \"private\": ") + (info->is_private ? "true" : "false") + ",\n";
    }
    out += "      \"files\": {";
    bool first_file = true;
    for (auto f : s->files) {
      out += first_file ? "\n" : ",\n";
      first_file = false;
      out += "        " + json_quoted(f.path()) + ": {\"size\": " + std::to_string(f.size()) + ", \"oid\": " + json_quoted(f.oid());
      if (auto lfs = f.lfs()) out += ", \"sha256\": " + json_quoted(lfs->sha256);
      out += "}";
    }
    out += first_file ? "}\n" : "\n      }\n";
    out += "    }";
  }
  out += first_model ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

namespace detail {

/// The strict reader of a lock: each failure says where, in `why`.
struct lock_reader {
  std::string* why;
  std::string where;

  bool fail(std::string_view what) {
    if (why) *why = where + ": " + std::string(what);
    return false;
  }
  const boost::json::string* string(const boost::json::object& o, std::string_view key, bool required = true) {
    const auto* v = o.if_contains(key);
    if (!v && !required) return nullptr;
    if (!v || !v->is_string()) return fail("\"" + std::string(key) + "\" should be a string"), nullptr;
    return &v->get_string();
  }
};

}  // namespace detail

HFMM_DECL result<lock_file> parse_lock(std::string_view text, std::string* why) {
  detail::lock_reader r{why, "lock"};
  boost::system::error_code ec;
  auto jv = boost::json::parse(text, ec);
  if (ec) {
    r.fail("not JSON (" + ec.message() + ")");
    return errc::invalid_argument;
  }
  const auto* top = jv.if_object();
  const auto* version = top ? top->if_contains("hfmm_lock") : nullptr;
  auto v = detail::strict_unsigned(version);
  if (!v || *v == 0) {
    r.fail("not an hfmm lock file (\"hfmm_lock\": <version> is missing)");
    return errc::invalid_argument;
  }
  if (*v > static_cast<std::uint64_t>(lock_format_version)) {
    r.fail("format " + std::to_string(*v) + " is newer than this hfmm reads (" + std::to_string(lock_format_version) + ")");
    return errc::schema_newer;
  }
  const auto* models = top->if_contains("models");
  if (!models || !models->is_object()) {
    r.fail("\"models\" should be an object keyed by model id");
    return errc::invalid_argument;
  }
  lock_file out;
  for (const auto& kv : models->get_object()) {
    locked_model lm;
    lm.model_id = kv.key();
    r.where = "lock: model \"" + lm.model_id + "\"";
    const auto* o = kv.value().if_object();
    if (!o) return r.fail("should be an object"), errc::invalid_argument;
    const auto *repo = r.string(*o, "repo"), *type = r.string(*o, "repo_type"), *revision = r.string(*o, "revision"),
               *commit = r.string(*o, "commit");
    if (!repo || !type || !revision || !commit) return errc::invalid_argument;
    auto& s = lm.structure;
    auto parsed_type = parse_repo_type(*type);
    if (!parsed_type) return r.fail("\"repo_type\" should be \"model\", \"dataset\" or \"space\""), errc::invalid_argument;
    s.repo_type = *parsed_type;
    if (!detail::parse_repo_id(std::string(detail::repo_url_prefix(s.repo_type)) + std::string(*repo)))
      return r.fail("\"repo\" is not a repository id"), errc::invalid_argument;
    if (!detail::is_lower_hex(*commit, 40)) return r.fail("\"commit\" should be 40 lower-case hex digits"), errc::invalid_argument;
    s.model_id = *repo, s.branch = *revision, s.commit_sha = *commit;
    if (o->contains("license")) {
      const auto* license = r.string(*o, "license");
      if (!license) return errc::invalid_argument;
      lm.license = std::string(*license);
    }
    if (o->contains("gated") || o->contains("private")) {
      auto& info = s.model_info.emplace();
      if (const auto* g = o->if_contains("gated"); g && g->is_string()) info.gated = g->get_string();
      else if (g && !(g->is_bool() && !g->get_bool())) return r.fail("\"gated\" should be false, \"auto\" or \"manual\""), errc::invalid_argument;
      if (const auto* p = o->if_contains("private"); p && p->is_bool()) info.is_private = p->get_bool();
      else if (p) return r.fail("\"private\" should be true or false"), errc::invalid_argument;
    }
    const auto* files = o->if_contains("files");
    if (!files || !files->is_object()) return r.fail("\"files\" should be an object keyed by path"), errc::invalid_argument;
    auto url_prefix = standard_url_prefix(detail::default_endpoint, s.repo_type, s.model_id, s.commit_sha);
    detail::file_table_access::set_prefix_empty_table(s.files, url_prefix);
    s.files.reserve(files->get_object().size());
    for (const auto& f : files->get_object()) {
      std::string_view path(f.key().data(), f.key().size());
      r.where = "lock: model \"" + lm.model_id + "\": file \"" + std::string(path) + "\"";
      const auto* fo = f.value().if_object();
      if (!fo) return r.fail("should be an object"), errc::invalid_argument;
      file_entry e;
      e.download_url = url_prefix;
      detail::append_encoded_path(e.download_url, path);
      auto size = detail::strict_unsigned(fo->if_contains("size"));
      if (!size) return r.fail("\"size\" should be a non-negative integer"), errc::invalid_argument;
      e.size = *size;
      const auto* oid = r.string(*fo, "oid");
      if (!oid) return errc::invalid_argument;
      if (!detail::is_lower_hex(*oid, 40)) return r.fail("\"oid\" should be 40 lower-case hex digits"), errc::invalid_argument;
      e.oid = *oid;
      if (fo->contains("sha256")) {
        const auto* sha = r.string(*fo, "sha256");
        if (!sha) return errc::invalid_argument;
        if (!detail::is_lower_hex(*sha, 64)) return r.fail("\"sha256\" should be 64 lower-case hex digits"), errc::invalid_argument;
        e.lfs = lfs_info{std::string(*sha), e.size, lfs_pointer_size(e.size)};
      }
      detail::file_table_access::append(s.files, path, e);
    }
    detail::file_table_access::finish(s.files);
    out.models.push_back(std::move(lm));
  }
  // (Boost.JSON keeps the last of a key given twice, so ids and paths arrive unique.)
  std::sort(out.models.begin(), out.models.end(), [](const auto& a, const auto& b) { return a.model_id < b.model_id; });
  return out;
}

HFMM_DECL result<lock_file> read_lock(const std::filesystem::path& path, std::string* why) {
  auto text = detail::read_whole_file(path);
  if (!text) {
    if (why) *why = path.string() + ": cannot be read";
    return text.error();
  }
  auto lock = parse_lock(*text, why);
  if (!lock && why) *why = path.string() + ": " + *why;
  return lock;
}

}  // namespace hfmm
