#pragma once
// Bodies of <hfmm/audit.hpp>.

#include <hfmm/detail/ascii.hpp>
#include <hfmm/detail/posix_file.hpp>

#include <boost/json/parse.hpp>

namespace hfmm {

HFMM_DECL result<audit_policy> parse_audit_policy(std::string_view text, std::string* why) {
  auto fail = [&](const std::string& what) {
    if (why) *why = "policy: " + what;
    return errc::invalid_argument;
  };
  boost::system::error_code ec;
  auto jv = boost::json::parse(text, ec);
  if (ec) return fail("not JSON (" + ec.message() + ")");
  const auto* o = jv.if_object();
  if (!o) return fail("should be an object");
  audit_policy p;
  struct flag {
    std::string_view key;
    bool audit_policy::*member;
  };
  static constexpr flag flags[] = {{"deny_pickle", &audit_policy::deny_pickle},
                                   {"deny_gated", &audit_policy::deny_gated},
                                   {"deny_private", &audit_policy::deny_private},
                                   {"require_pinned_head", &audit_policy::require_pinned_head}};
  for (const auto& kv : *o) {
    std::string_view key(kv.key().data(), kv.key().size());
    if (key == "allowed_licenses") {
      const auto* a = kv.value().if_array();
      if (!a) return fail("\"allowed_licenses\" should be an array of licence ids");
      auto& list = p.allowed_licenses.emplace();
      for (const auto& l : *a) {
        if (!l.is_string()) return fail("\"allowed_licenses\" should be an array of licence ids");
        list.emplace_back(l.get_string());
      }
      continue;
    }
    const flag* known = nullptr;
    for (const auto& f : flags)
      if (f.key == key) known = &f;
    if (!known) return fail("unknown key \"" + std::string(key) + "\" (known: allowed_licenses, deny_pickle, deny_gated, deny_private, require_pinned_head)");
    if (!kv.value().is_bool()) return fail("\"" + std::string(key) + "\" should be true or false");
    p.*(known->member) = kv.value().get_bool();
  }
  return p;
}

HFMM_DECL result<audit_policy> read_audit_policy(const std::filesystem::path& path, std::string* why) {
  auto text = detail::read_whole_file(path);
  if (!text) {
    if (why) *why = path.string() + ": cannot be read";
    return text.error();
  }
  auto p = parse_audit_policy(*text, why);
  if (!p && why) *why = path.string() + ": " + *why;
  return p;
}

HFMM_DECL std::vector<audit_subject> audit_subjects(std::span<const model_metadata* const> models) {
  std::vector<audit_subject> out;
  out.reserve(models.size());
  for (const auto* m : models)
    out.push_back({m->model_id, m->license, m->repository_structure ? &*m->repository_structure : nullptr});
  return out;
}

HFMM_DECL std::vector<audit_subject> audit_subjects(const lock_file& lock) {
  std::vector<audit_subject> out;
  out.reserve(lock.models.size());
  for (const auto& m : lock.models) out.push_back({m.model_id, m.license, &m.structure});
  return out;
}

namespace detail {
/// Weight formats that run code when loaded (Python pickle).
HFMM_DECL bool is_pickle_file(std::string_view path) {
  for (std::string_view ext : {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
    if (path.size() >= ext.size() && iequals(path.substr(path.size() - ext.size()), ext)) return true;
  return false;
}
}  // namespace detail

HFMM_DECL result<audit_report> audit(std::span<const audit_subject> subjects, const audit_policy& policy,
                                     const head_resolver& resolve_head, std::string* why) {
  audit_report report;
  report.models = subjects.size();
  for (const auto& m : subjects) {
    auto violation = [&](std::string_view rule, std::string detail) {
      report.violations.push_back({m.model_id, std::string(rule), std::move(detail)});
    };
    const auto* s = m.structure;
    if (!s || s->commit_sha.empty()) violation("unpinned", "no repository structure pinned to a commit");
    if (policy.allowed_licenses) {
      bool allowed = false;
      if (m.license)
        for (const auto& l : *policy.allowed_licenses) allowed = allowed || detail::iequals(l, *m.license);
      if (!allowed) violation("license", m.license ? "licence " + *m.license + " is not allowed" : "no licence recorded");
    }
    if (!s) continue;
    if (policy.deny_pickle)
      for (auto f : s->files)
        if (detail::is_pickle_file(f.path())) violation("pickle", std::string(f.path()));
    const auto& info = s->model_info;
    if (policy.deny_gated && (!info || !info->gated.empty()))
      violation("gated", info ? "gated (" + info->gated + ")" : "gating not recorded (refresh the model)");
    if (policy.deny_private && (!info || info->is_private))
      violation("private", info ? "private repository" : "visibility not recorded (refresh the model)");
    if (policy.require_pinned_head && !s->commit_sha.empty()) {
      auto fail = [&](error_code ec, const std::string& what) -> result<audit_report> {
        if (why) *why = m.model_id + ": " + what;
        return ec;
      };
      if (!resolve_head) return fail(errc::invalid_argument, "require_pinned_head needs the Hub, and no fetcher was given");
      auto head = resolve_head(*s);
      if (!head) return fail(head.error(), "could not ask the Hub where " + s->branch + " points (" + head.error().message() + ")");
      if (*head != s->commit_sha) violation("moved", s->branch + " is at " + *head + ", pinned " + s->commit_sha);
    }
  }
  return report;
}

}  // namespace hfmm
