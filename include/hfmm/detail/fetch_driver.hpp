#pragma once
// The request sequence of one repository listing, shared by the Hub fetcher and the
// recording replay: revision → commit sha, then every page of the recursive tree at that
// sha (Link rel="next"), directories skipped. Templated on the transport so that including
// this header costs nothing until a fetcher instantiates it.
//
// Transport requirements:
//   co_await t.async_get(std::string target) -> result<http_response>   (target: origin-less
//       "/api/..." or an absolute URL taken from a Link header)
//   t.endpoint() -> std::string_view                                      (download URL base)

#include <hfmm/detail/hub_protocol.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <set>

namespace hfmm::detail {

struct listing_limits {
  std::size_t max_entries = 1'000'000;
  std::size_t max_pages = 100'000;
  /// Take a complete sibling list of the revision answer as the listing (no xetHash then).
  bool trust_siblings = true;
};

/// The body of the revision answer at `target`; empty when the replay has none recorded.
template <class Transport>
boost::asio::awaitable<result<std::string>> revision_body(Transport& t, std::string target) {
  auto r = co_await t.async_get(std::move(target));
  if (!r) co_return r.error();
  if (r->unrecorded) co_return std::string();
  if (auto ec = classify_response(*r)) co_return ec;
  co_return std::move(r->body);
}

/// Revision → commit sha; empty when the replay has no revision answer recorded.
template <class Transport>
boost::asio::awaitable<result<std::string>> resolve_revision(Transport& t, const repo_ref& ref, std::string_view revision) {
  auto body = co_await revision_body(t, revision_target(ref, revision));
  if (!body || body->empty()) co_return body;
  co_return parse_revision_sha(*body);
}

/// The structure at `revision` with the model info of its revision answer. One request when
/// the answer's siblings carry every file's blob id and size (?blobs=true); otherwise the tree
/// at the answer's sha, page by page (which also gives xetHash).
template <class Transport>
boost::asio::awaitable<result<fetched_model>> fetch_listing(Transport& t, std::string_view repo_id,
                                                            std::string_view revision, listing_limits limits = {}) {
  auto ref = parse_repo_id(repo_id);
  if (!ref) co_return ref.error();
  if (!valid_revision(revision)) co_return errc::invalid_argument;
  auto answer = co_await revision_body(t, revision_with_blobs_target(*ref, revision));
  if (!answer) co_return answer.error();

  fetched_model fetched;
  if (!answer->empty())
    if (auto ok = parse_revision_answer(*answer, fetched); !ok) co_return ok.error();
  repo_structure& out = fetched.structure;
  out.model_id = ref->id;
  out.repo_type = ref->type;
  out.branch = revision;
  const std::string& sha = out.commit_sha;
  // Listing at the sha keeps pages consistent and pins every download URL.
  std::string_view listed_at = sha.empty() ? revision : std::string_view(sha);
  file_table_access::set_prefix_empty_table(out.files, standard_url_prefix(t.endpoint(), ref->type, ref->id, listed_at));
  if (!sha.empty() && limits.trust_siblings && parse_revision_siblings(*answer, out.files, max_trusted_siblings)) {
    if (out.files.size() > limits.max_entries) co_return errc::bad_response;
    out.fetched_at = now();
    co_return fetched;
  }

  std::string target = tree_target(*ref, listed_at);
  std::set<std::string> visited;
  std::size_t entries = 0;
  for (;;) {
    if (!visited.insert(target).second || visited.size() > limits.max_pages) co_return errc::bad_response;  // Link loop
    auto page = co_await t.async_get(target);
    if (!page) co_return page.error();
    if (auto ec = classify_response(*page)) {
      // A branch we could not resolve (replay without a revision answer) that the tree does
      // not know either is an unknown revision.
      if (sha.empty() && page->status == 404 && page->header("X-Error-Code").empty()) co_return errc::revision_not_found;
      co_return ec;
    }
    auto entries_before = entries;
    if (auto ok = parse_tree_page(page->body, out.files, entries, limits.max_entries); !ok) co_return ok.error();
    auto next = parse_link_next(page->header("Link"));
    if (!next) break;
    // Each page must list something: endless empty pages with fresh cursors would otherwise
    // run to max_pages. With this, max_entries bounds the pages too.
    if (entries == entries_before) co_return errc::bad_response;
    target = resolve_reference(target, *next);
  }
  if (file_table_access::finish(out.files) != 0) co_return errc::bad_response;  // a path listed twice
  out.fetched_at = now();
  co_return fetched;
}

/// The structure of a fetch that also gave model info (a fetcher's async_fetch_structure).
template <class FetchModel>
boost::asio::awaitable<result<repo_structure>> structure_of(FetchModel fetch) {
  auto fetched = co_await std::move(fetch);
  if (!fetched) co_return fetched.error();
  co_return std::move(fetched->structure);
}

/// Repositories matching `q`, page after page (Link rel="next"), up to q.limit.
template <class Transport>
boost::asio::awaitable<result<std::vector<listed_repo>>> list_repositories(Transport& t, repo_listing_query q,
                                                                           listing_limits limits = {}) {
  std::vector<listed_repo> out;
  if (q.limit == 0) co_return out;
  std::string target = listing_target(q, std::min<std::size_t>(q.limit, 1000));
  std::set<std::string> visited;
  for (;;) {
    if (!visited.insert(target).second || visited.size() > limits.max_pages) co_return errc::bad_response;  // Link loop
    auto page = co_await t.async_get(target);
    if (!page) co_return page.error();
    if (auto ec = classify_response(*page)) co_return ec;
    auto before = out.size();
    if (auto ok = parse_listing_page(page->body, q.repo_type, out); !ok) co_return ok.error();
    if (out.size() >= q.limit) break;
    auto next = parse_link_next(page->header("Link"));
    if (!next) break;
    if (out.size() == before) co_return errc::bad_response;  // endless empty pages
    target = resolve_reference(target, *next);
  }
  if (out.size() > q.limit) out.resize(q.limit);
  co_return out;
}

}  // namespace hfmm::detail
