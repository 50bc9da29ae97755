#pragma once
// Lock files: what is deployed, pinned. Per model the repository, the revision and commit it
// was pinned at, every file's path, size, git blob id and LFS SHA-256, and what an audit asks
// (licence, gated, private). One JSON document in a stable order — models by id, files by
// path, one file per line — so that two locks diff line by line. Verifying against a lock
// needs no catalog and no network. The format is documented in docs/lock.md.

#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/model.hpp>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfmm {

/// One model of a lock file.
struct locked_model {
  std::string model_id;  ///< the catalog's id
  /// The repository (model_id, repo_type, branch, commit_sha) and its files; URLs are the
  /// standard ones at the commit. model_info holds gated and private only.
  repo_structure structure;
  std::optional<std::string> license;
  bool operator==(const locked_model&) const = default;
};

struct lock_file {
  std::vector<locked_model> models;  ///< sorted by model_id
  /// The model locked under `model_id`, or nullptr.
  const locked_model* find(std::string_view model_id) const noexcept;
  bool operator==(const lock_file&) const = default;
};

/// The lock format this hfmm writes and the newest it reads.
inline constexpr int lock_format_version = 1;

/// The lock of `models`, as text. Each needs a repository structure pinned to a commit:
/// otherwise invalid_argument, and `why` names the first model that has none.
result<std::string> write_lock(std::span<const model_metadata* const> models, std::string* why = nullptr);

/// Reads a lock. Strict: a missing or ill-typed key, a digest that is not hex, a repo id that
/// could leave a URL path → invalid_argument with `why` saying where; a newer format →
/// schema_newer. (A key given twice in one object: the last one counts, as in Boost.JSON.)
result<lock_file> parse_lock(std::string_view text, std::string* why = nullptr);
/// parse_lock of a file; file_not_found or storage_io when it cannot be read.
result<lock_file> read_lock(const std::filesystem::path& path, std::string* why = nullptr);

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/lock.ipp>
#endif
