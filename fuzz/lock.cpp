// Fuzz target: a lock file and an audit policy from an untrusted hand. An accepted lock holds
// only what the reader promises, and written again it reads back the same.

#include "fuzz_support.hpp"

#include <hfmm/audit.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/lock.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm;
  auto text = fuzz::as_text(data, size);
  (void)parse_audit_policy(text);

  auto lock = parse_lock(text);
  if (!lock) return 0;
  std::vector<model_metadata> models;
  for (std::size_t i = 0; i < lock->models.size(); ++i) {
    const auto& m = lock->models[i];
    HFMM_FUZZ_CHECK(i == 0 || lock->models[i - 1].model_id < m.model_id);
    HFMM_FUZZ_CHECK(lock->find(m.model_id) == &m);
    HFMM_FUZZ_CHECK(detail::is_lower_hex(m.structure.commit_sha, 40));
    for (auto f : m.structure.files) {
      HFMM_FUZZ_CHECK(detail::is_lower_hex(f.oid(), 40));
      if (auto lfs = f.lfs()) HFMM_FUZZ_CHECK(detail::is_lower_hex(lfs->sha256, 64) && lfs->size == f.size());
    }
    model_metadata r;
    r.model_id = m.model_id;
    r.license = m.license;
    r.repository_structure = m.structure;
    models.push_back(std::move(r));
  }
  std::vector<const model_metadata*> pointers;
  for (const auto& m : models) pointers.push_back(&m);
  auto written = write_lock(pointers);
  HFMM_FUZZ_CHECK(written.has_value());
  auto again = parse_lock(*written);
  HFMM_FUZZ_CHECK(again && *again == *lock);
  HFMM_FUZZ_CHECK(write_lock(pointers).value() == *written);
  (void)audit(audit_subjects(*lock), audit_policy{.allowed_licenses = std::vector<std::string>{"mit"}, .deny_pickle = true,
                                                  .deny_gated = true, .deny_private = true});
  return 0;
}
