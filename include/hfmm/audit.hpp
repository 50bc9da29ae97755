#pragma once
// Audits: a catalog's models or a lock's checked against a policy — licences allowed,
// pickle-based weight files, gated or private repositories, and branches that moved past the
// pinned commit. The policy format is documented in docs/lock.md.

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/lock.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfmm {

struct audit_policy {
  /// Licences allowed (ASCII case-insensitive); absent: any. A model without one then violates.
  std::optional<std::vector<std::string>> allowed_licenses;
  bool deny_pickle = false;   ///< weight files that unpickle: .bin .pt .pth .ckpt .pkl .pickle
  bool deny_gated = false;    ///< gated repositories (and those whose gating is not recorded)
  bool deny_private = false;  ///< private repositories (and those whose visibility is not recorded)
  /// The branch must still point at the pinned commit (asks the Hub).
  bool require_pinned_head = false;
  bool operator==(const audit_policy&) const = default;
};

/// Reads a policy. Strict: an unknown key (a typo would silently allow) or a wrong type →
/// invalid_argument, `why` says which.
result<audit_policy> parse_audit_policy(std::string_view text, std::string* why = nullptr);
result<audit_policy> read_audit_policy(const std::filesystem::path& path, std::string* why = nullptr);

/// One model as an audit sees it.
struct audit_subject {
  std::string model_id;
  std::optional<std::string> license;
  const repo_structure* structure = nullptr;  ///< nullptr: nothing pinned
};
std::vector<audit_subject> audit_subjects(std::span<const model_metadata* const> models);
std::vector<audit_subject> audit_subjects(const lock_file& lock);

struct audit_violation {
  std::string model_id;
  std::string rule;    ///< "unpinned", "license", "pickle", "gated", "private" or "moved"
  std::string detail;  ///< the file, the licence or the commits, in words
  bool operator==(const audit_violation&) const = default;
};

struct audit_report {
  std::size_t models = 0;
  std::vector<audit_violation> violations;  ///< in subject order, then rule order
  bool ok() const noexcept { return violations.empty(); }
};

/// The commit a structure's branch points at now (the Hub's answer), for require_pinned_head.
using head_resolver = std::function<result<std::string>(const repo_structure&)>;

/// Every violation of `policy` by `subjects`. require_pinned_head needs `resolve_head`: without
/// one, or when it fails (offline, not found), the audit fails with that error and `why`
/// names the model — an audit never passes what it could not check.
result<audit_report> audit(std::span<const audit_subject> subjects, const audit_policy& policy,
                           const head_resolver& resolve_head = {}, std::string* why = nullptr);

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/audit.ipp>
#endif
