#pragma once
// Body of <hfmm/diff.hpp>.

#include <map>

namespace hfmm {

namespace detail {
/// Content identity of a file: the LFS SHA-256 (else the git oid) and the size.
HFMM_DECL std::string content_identity(const file_ref& f) {
  auto lfs = f.lfs();
  return (lfs ? "sha256:" + lfs->sha256 : "oid:" + f.oid()) + "/" + std::to_string(f.size());
}
}  // namespace detail

HFMM_DECL structure_diff diff_structures(const repo_structure& before, const repo_structure& after) {
  structure_diff d;
  std::vector<file_ref> gone, fresh;
  auto b = before.files.begin(), a = after.files.begin();
  while (b != before.files.end() || a != after.files.end()) {
    if (a == after.files.end() || (b != before.files.end() && (*b).path() < (*a).path())) {
      gone.push_back(*b++);
    } else if (b == before.files.end() || (*a).path() < (*b).path()) {
      fresh.push_back(*a++);
    } else {
      auto x = *b++, y = *a++;
      bool same = x.size() == y.size() && x.oid() == y.oid() && x.lfs().has_value() == y.lfs().has_value() &&
                  (!x.lfs() || x.lfs()->sha256 == y.lfs()->sha256);
      if (same) ++d.unchanged;
      else d.modified.push_back({std::string(x.path()), x.to_entry(), y.to_entry()});
    }
  }
  // Renames: removed content that reappears under a new path.
  std::multimap<std::string, std::size_t> added_by_content;
  for (std::size_t i = 0; i < fresh.size(); ++i) added_by_content.emplace(detail::content_identity(fresh[i]), i);
  std::vector<bool> matched(fresh.size(), false);
  for (auto g : gone) {
    auto it = added_by_content.find(detail::content_identity(g));
    if (it == added_by_content.end()) {
      d.removed.emplace_back(g.path());
      continue;
    }
    matched[it->second] = true;
    d.renamed.push_back({std::string(g.path()), std::string(fresh[it->second].path()), fresh[it->second].to_entry()});
    added_by_content.erase(it);
  }
  for (std::size_t i = 0; i < fresh.size(); ++i)
    if (!matched[i]) d.added.emplace_back(fresh[i].path());
  return d;
}

}  // namespace hfmm
