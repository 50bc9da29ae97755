#pragma once
// The Hub protocol without I/O: repo ids, request targets, response classification and the
// parsers for revision answers, tree pages and Link headers. The Hub fetcher and the
// recording replay of mock_fetcher both drive exactly these functions.

#include <hfmm/detail/ascii.hpp>
#include <hfmm/detail/config.hpp>
#include <hfmm/error.hpp>
#include <hfmm/model.hpp>

#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfmm::detail {

struct repo_ref {
  hfmm::repo_type type = repo_type::model;
  std::string id;  ///< "org/name" or a legacy bare "name", without the datasets/ or spaces/ prefix
};

/// The repo id split from its datasets/ or spaces/ (or the API's models/) prefix, unchecked.
repo_ref split_repo_type(std::string_view text);
/// repo_id_problem of one part ("org" or "name"), and of an id without its prefix.
std::string_view repo_id_part_problem(std::string_view part);
std::string_view repo_id_body_problem(std::string_view id);

/// Parses "org/name", a legacy bare "name", and "datasets/org/name" / "spaces/org/name".
/// Anything that could change the URL path (slashes beyond these, "..", escapes) is refused:
/// invalid_argument, for the reason repo_id_problem gives.
result<repo_ref> parse_repo_id(std::string_view text);

/// The repo id as the catalog and the Hub's web URLs spell it ("datasets/org/name" for datasets).
std::string display_id(const repo_ref& ref);

std::string api_prefix(const repo_ref& ref);

inline bool valid_revision(std::string_view rev) { return !rev.empty() && rev.size() <= 256; }

std::string revision_target(const repo_ref& ref, std::string_view revision);
/// The revision answer with every file's size, blob id and LFS digests (one request instead of two).
std::string revision_with_blobs_target(const repo_ref& ref, std::string_view revision);

std::string tree_target(const repo_ref& ref, std::string_view revision);

/// One HTTP answer as the protocol needs it.
struct http_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Set only by the recording replay: "no revision answer was recorded" (list at the branch).
  bool unrecorded = false;
  /// Whether the request carried the token (a 401 then means "rejected", not "private").
  bool token_sent = false;

  std::string_view header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers)
      if (iequals(k, name)) return v;
    return {};
  }
};

/// Maps a final (non-2xx) answer to an errc; a 2xx gives an empty error_code.
error_code classify_response(const http_response& r);

/// Parses a whole body as JSON; anything else (truncated, trailing bytes) is bad_response.
result<boost::json::value> parse_json_body(std::string_view body);

/// The commit sha of a /revision/ answer: {"sha": "<40 hex>", ...}.
result<std::string> parse_revision_sha(std::string_view body);

/// A whole /revision/ answer: the sha into out.structure.commit_sha, the model info into
/// out.structure.model_info, and config, tags and cardData.license. The sha is strict (it
/// pins everything); the info is descriptive and the Hub adds to it, so a value of another
/// shape than expected is left out rather than failing the fetch.
result<void> parse_revision_answer(std::string_view body, fetched_model& out);

/// The answer's siblings as every file of the repository (the revision answer asked with
/// ?blobs=true: rfilename, blobId, size, lfs{sha256, size, pointerSize}; no xetHash).
/// `files` must be empty with its URL prefix set. True when they were complete and are now in
/// `files`; false (files left empty) when any sibling lacks a blob id or size, a value is not
/// what the tree would give, or the listing is as long as `max_trusted` — the Hub may cut long
/// lists short, and the paginated tree is then the authority.
bool parse_revision_siblings(std::string_view body, file_table& files, std::size_t max_trusted);

/// Revision answers listing this many siblings or more are checked against the tree.
inline constexpr std::size_t max_trusted_siblings = 1000;

std::optional<std::uint64_t> strict_unsigned(const boost::json::value* v);

/// Sizes beyond this are not real files (the largest Hub files are a few hundred GB).
inline constexpr std::uint64_t max_plausible_file_size = 1ull << 50;

// ---- The same answers written, for a server of the catalog (hfmm serve): the inverses of
// the parsers above, so that a client parsing them gets back what the catalog holds.

/// The revision answer for a record: sha, id, the model info (pipeline_tag, library_name,
/// gated, private, disabled, lastModified, createdAt, safetensors, cardData.license and
/// base_model), config and tags; siblings with blobId, size and lfs when `blobs`
/// (?blobs=true), else their names alone. `m.repository_structure` must be set.
boost::json::object revision_answer(const model_metadata& m, bool blobs);

/// A file as the tree and paths-info answers give it: type, oid, size, path, lfs (oid, size,
/// pointerSize) for LFS files. No xetHash: a catalog server serves no Xet endpoints.
boost::json::object tree_file_entry(const file_ref& f);
boost::json::object tree_directory_entry(std::string_view path, std::string_view oid);

/// Every directory of `files` with its git tree id, computed from the blob ids as git does
/// (each file mode 100644, the Hub's for every file it lists), by path.
std::vector<std::pair<std::string, std::string>> git_tree_oids(const file_table& files);

/// The Hub's spelling of a time: "2026-09-22T17:25:10.000Z".
std::string hub_timestamp(timestamp t);

/// Appends the files of one tree page (a JSON array) to `files`; directories are skipped.
/// Strict: wrong types, missing keys, non-hex digests or absurd sizes → bad_response.
/// `entries` counts every entry seen so far, against `max_entries`.
result<void> parse_tree_page(std::string_view body, file_table& files, std::size_t& entries,
                             std::size_t max_entries);

}  // namespace hfmm::detail

namespace hfmm {

/// Why `id` is not a Hub repo id, in words naming the Hub's rule; empty when it is one. The
/// rule: "org/name" or a legacy bare "name", optionally prefixed "datasets/" or "spaces/";
/// each part 1 to 96 of A-Z a-z 0-9 - _ . , starting and ending with a letter, digit or _,
/// with no "--" or "..". add_model, create_model_from_hub and every fetch refuse such ids
/// (invalid_argument).
std::string_view repo_id_problem(std::string_view id);

}  // namespace hfmm

namespace hfmm::detail {

/// The first page of a listing: the query's parameters, the current commit of each repository
/// (expand[]=sha), at most `page_size` a page.
std::string listing_target(const repo_listing_query& q, std::size_t page_size);

/// Appends the repositories of one listing page (a JSON array of {id, sha, ...}). Strict on
/// what it keeps: an entry without a valid id, or with a sha that is not 40 hex, is bad_response.
result<void> parse_listing_page(std::string_view body, repo_type type, std::vector<listed_repo>& out);

/// The target of `Link: <url>; rel="next"`, when there is one.
std::optional<std::string> parse_link_next(std::string_view header);

/// Splits "scheme://host[:port]" off a URL; empty when the URL has no origin.
std::string_view url_origin(std::string_view url);

/// Resolves a Link target against the URL (or origin-less target) it came from.
std::string resolve_reference(std::string_view base, std::string_view ref);

}  // namespace hfmm::detail

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/hub_protocol.ipp>
#endif
