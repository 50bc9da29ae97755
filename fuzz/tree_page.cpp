// Fuzz target: one /tree page body (and a /revision answer with its model info) from an untrusted server.
// Accepted pages must yield a table whose every entry satisfies what the parser promises.

#include "fuzz_support.hpp"

#include <hfmm/detail/hub_protocol.hpp>
#include <hfmm/detail/hex.hpp>
#include <hfmm/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm;
  auto body = fuzz::as_text(data, size);

  if (auto sha = detail::parse_revision_sha(body)) HFMM_FUZZ_CHECK(detail::is_lower_hex(*sha, 40));
  fetched_model answer;
  if (detail::parse_revision_answer(body, answer)) {  // the model info: kept as stored, read back the same
    HFMM_FUZZ_CHECK(detail::is_lower_hex(answer.structure.commit_sha, 40));
    HFMM_FUZZ_CHECK(answer.structure.model_info.has_value());
    auto back = detail::read_model_info(detail::write_model_info(*answer.structure.model_info));
    HFMM_FUZZ_CHECK(back && *back == *answer.structure.model_info);
  }

  std::vector<listed_repo> listed;  // a page of a repository search
  if (detail::parse_listing_page(body, repo_type::dataset, listed))
    for (const auto& r : listed) {
      auto ref = detail::parse_repo_id(r.id);
      HFMM_FUZZ_CHECK(ref && ref->type == repo_type::dataset && detail::display_id(*ref) == r.id);
      HFMM_FUZZ_CHECK(r.sha.empty() || detail::is_lower_hex(r.sha, 40));
    }

  file_table files;
  detail::file_table_access::set_prefix_empty_table(
      files, standard_url_prefix("https://huggingface.co", repo_type::model, "org/name", "main"));
  std::size_t entries = 0;
  if (!detail::parse_tree_page(body, files, entries, 50'000)) return 0;
  HFMM_FUZZ_CHECK(entries <= 50'000);
  auto dropped = detail::file_table_access::finish(files);
  HFMM_FUZZ_CHECK(files.size() + dropped <= entries);
  std::string_view previous;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto f = files[i];
    HFMM_FUZZ_CHECK(i == 0 || previous < f.path());  // sorted, no duplicates
    previous = f.path();
    HFMM_FUZZ_CHECK(detail::is_lower_hex(f.oid(), 40));
    HFMM_FUZZ_CHECK(f.size() <= detail::max_plausible_file_size);
    if (auto lfs = f.lfs()) HFMM_FUZZ_CHECK(detail::is_lower_hex(lfs->sha256, 64));
    HFMM_FUZZ_CHECK(files.find(f.path()).has_value());
    HFMM_FUZZ_CHECK(f.download_url().starts_with(files.url_prefix()));
    HFMM_FUZZ_CHECK(f.to_entry() == *files.find(f.path()));
  }
  return 0;
}
