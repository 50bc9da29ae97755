#pragma once
// mock_fetcher: an offline fetcher for tools and tests.
//
// Two sources, checked in this order:
//  - structures added with add(): served for their id at their branch and at their commit
//    sha; a known id at another revision → revision_not_found;
//  - recorded Hub exchanges (from_recordings(dir), the format of fixtures/hub/recordings.json),
//    replayed through the same request sequence and parser as the Hub fetcher.
// An id known to neither → repo_not_found (with recordings: unauthorized, as the Hub answers
// an anonymous caller). Copies share their data. Not thread-safe: use one per io_context.

#include <hfmm/detail/fetch_driver.hpp>
#include <hfmm/detail/recordings.hpp>

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <map>
#include <memory>

namespace hfmm {

/// A class template only so that its coroutines are compiled where they are used (inline
/// coroutines cost seconds in every translation unit that includes them); use the alias mock_fetcher.
template <class Recordings = detail::recording_set>
class basic_mock_fetcher {
public:
  basic_mock_fetcher() = default;

  /// Serves `s` for its id (with the datasets/ or spaces/ prefix for those repo types).
  void add(repo_structure s);
  /// Replays dir/recordings.json. Errors: file_not_found, bad_response (malformed file).
  static result<basic_mock_fetcher> from_recordings(const std::filesystem::path& dir);

  boost::asio::awaitable<result<repo_structure>> async_fetch_structure(std::string_view repo_id,
                                                                       std::string_view revision) {
    return detail::structure_of(fetch(std::string(repo_id), std::string(revision)));
  }
  /// The structure with the record-level model info of the commit (from the revision answer
  /// when replaying; none for added structures).
  boost::asio::awaitable<result<fetched_model>> async_fetch_model(std::string_view repo_id, std::string_view revision) {
    return fetch(std::string(repo_id), std::string(revision));
  }

  boost::asio::awaitable<result<std::string>> async_resolve_revision(std::string_view repo_id,
                                                                     std::string_view revision) {
    return resolve(std::string(repo_id), std::string(revision));
  }

  std::string_view endpoint() const noexcept { return detail::default_endpoint; }
  /// Requests answered so far (one per added-structure call; one per exchange when replaying).
  std::size_t requests() const noexcept { return state_->requests; }

private:
  struct state {
    std::map<std::string, std::shared_ptr<const repo_structure>, std::less<>> added;
    std::shared_ptr<const Recordings> recordings;
    std::size_t requests = 0;
  };
  struct replay_transport {
    state* s;
    std::string_view endpoint() const noexcept { return detail::default_endpoint; }
    boost::asio::awaitable<result<detail::http_response>> async_get(std::string target) {
      ++s->requests;
      co_return s->recordings->answer(target);
    }
  };

  const repo_structure* find_added(const detail::repo_ref& ref) const;
  // Defined below the class, not inline, so that the `extern template` of the common
  // instantiation (detail/instantiations.hpp) keeps these coroutines out of other translation
  // units. Parameters by value: the coroutine outlives the caller's string_views.
  boost::asio::awaitable<result<fetched_model>> fetch(std::string repo_id, std::string revision);
  boost::asio::awaitable<result<std::string>> resolve(std::string repo_id, std::string revision);

  std::shared_ptr<state> state_ = std::make_shared<state>();
};

template <class Recordings>
void basic_mock_fetcher<Recordings>::add(repo_structure s) {
  auto key = detail::display_id({s.repo_type, s.model_id});
  state_->added[key] = std::make_shared<const repo_structure>(std::move(s));
}

template <class Recordings>
auto basic_mock_fetcher<Recordings>::from_recordings(const std::filesystem::path& dir) -> result<basic_mock_fetcher> {
  auto set = Recordings::load(dir);
  if (!set) return set.error();
  basic_mock_fetcher f;
  f.state_->recordings = std::make_shared<const Recordings>(std::move(*set));
  return f;
}

template <class Recordings>
const repo_structure* basic_mock_fetcher<Recordings>::find_added(const detail::repo_ref& ref) const {
  auto it = state_->added.find(detail::display_id(ref));
  return it == state_->added.end() ? nullptr : it->second.get();
}

template <class Recordings>
boost::asio::awaitable<result<fetched_model>> basic_mock_fetcher<Recordings>::fetch(std::string repo_id,
                                                                                    std::string revision) {
  auto ref = detail::parse_repo_id(repo_id);
  if (!ref) co_return ref.error();
  if (const auto* s = find_added(*ref)) {
    ++state_->requests;
    if (revision != s->branch && (s->commit_sha.empty() || revision != s->commit_sha))
      co_return errc::revision_not_found;
    fetched_model copy;
    copy.structure = *s;
    copy.structure.fetched_at = now();
    co_return copy;
  }
  if (!state_->recordings) {
    ++state_->requests;  // answered "not found", as a Hub would
    co_return errc::repo_not_found;
  }
  replay_transport t{state_.get()};
  co_return co_await detail::fetch_listing(t, repo_id, revision);
}

template <class Recordings>
boost::asio::awaitable<result<std::string>> basic_mock_fetcher<Recordings>::resolve(std::string repo_id,
                                                                                    std::string revision) {
  auto ref = detail::parse_repo_id(repo_id);
  if (!ref) co_return ref.error();
  if (const auto* s = find_added(*ref)) {
    ++state_->requests;
    if (revision == s->branch || revision == s->commit_sha) co_return s->commit_sha;
    co_return errc::revision_not_found;
  }
  if (!state_->recordings) {
    ++state_->requests;  // answered "not found", as a Hub would
    co_return errc::repo_not_found;
  }
  replay_transport t{state_.get()};
  co_return co_await detail::resolve_revision(t, *ref, revision);
}

using mock_fetcher = basic_mock_fetcher<>;

}  // namespace hfmm

#include <hfmm/concepts.hpp>
static_assert(hfmm::revision_resolving_fetcher<hfmm::mock_fetcher>);
static_assert(hfmm::model_info_fetcher<hfmm::mock_fetcher>);
static_assert(hfmm::fetcher_with_endpoint<hfmm::mock_fetcher>);
