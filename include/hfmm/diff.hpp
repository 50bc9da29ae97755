#pragma once
// diff_structures: what changed between two listings of a repository, offline.
//
// added / removed: paths only in `after` / only in `before`, except renames; modified: the
// same path with another size, oid or LFS SHA-256; renamed: a removed path whose content
// (LFS SHA-256, else git oid, and size) reappears at an added path, each matched once;
// unchanged: paths with identical entries. Lists are path-sorted. Pure function.

#include <hfmm/detail/config.hpp>
#include <hfmm/structure.hpp>

#include <string>
#include <vector>

namespace hfmm {

struct file_change {
  std::string path;
  file_entry before, after;
  bool operator==(const file_change&) const = default;
};

struct file_rename {
  std::string from, to;
  file_entry entry;  ///< as listed in `after`
  bool operator==(const file_rename&) const = default;
};

struct structure_diff {
  std::vector<std::string> added, removed;
  std::vector<file_change> modified;
  std::vector<file_rename> renamed;
  std::size_t unchanged = 0;
  bool empty() const noexcept { return added.empty() && removed.empty() && modified.empty() && renamed.empty(); }
  bool operator==(const structure_diff&) const = default;
};

/// What changed from `before` to `after` (the rules above).
structure_diff diff_structures(const repo_structure& before, const repo_structure& after);

}  // namespace hfmm

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/diff.ipp>
#endif
