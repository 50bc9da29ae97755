#pragma once
// hub_fetcher: the Hugging Face Hub client (Beast/Asio C++20 coroutines).
//
// A listing is: revision → commit sha (/api/{type}/{id}/revision/{rev}), then every page of
// /tree/{sha}?recursive=true (Link rel="next"), directories skipped — the sans-io code in
// detail/hub_protocol.hpp, shared with mock_fetcher's replay.
//
// Transport: TLS with SNI, peer and host-name verification on by default (system store, or
// hub_options::ca_file); HTTP/1.1 keep-alive, one pool per execution context (an Asio
// service, gone with its context); at most max_connections at a time per executor; a deadline
// on every step (resolve/connect/handshake: connect_timeout; write, read: request_timeout);
// redirects followed up to 5 hops, the token dropped when the host changes; bodies capped at
// max_body_bytes; no compression accepted. Retries 408, 5xx and broken connections with
// jittered exponential backoff; on 429 waits what RateLimit t= or Retry-After says (never
// blindly, at most max_rate_limit_wait); paces requests when RateLimit r= runs low.
//
// Errors: unauthorized, token_rejected, gated, repo_not_found,
// revision_not_found, file_not_found, rate_limited, http_status, bad_response, timeout,
// offline, invalid_argument (repo id, revision, endpoint, unreadable ca_file); TLS and socket
// failures pass through as Asio/SSL error codes.
//
// Thread safety: copies share one state; run a fetcher's coroutines on one single-threaded
// executor (or strand) at a time. The blocking calls run a private io_context.
//
// A class template only so that its coroutines are compiled where they are used (inline
// coroutines cost seconds in every translation unit that includes them).

#include <hfmm/concepts.hpp>
#include <hfmm/detail/blocking.hpp>
#include <hfmm/detail/fetch_driver.hpp>
#include <hfmm/detail/http_util.hpp>
#include <hfmm/fetch/download.hpp>
#include <hfmm/fetch/hub_options.hpp>
#include <hfmm/huggingface.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>

namespace hfmm {

namespace detail {

/// One keep-alive connection, plain or TLS.
struct hub_connection {
  std::unique_ptr<boost::beast::tcp_stream> plain;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> secure;
  boost::beast::flat_buffer buffer;
  boost::beast::tcp_stream& lowest() { return secure ? boost::beast::get_lowest_layer(*secure) : *plain; }
};

/// The keep-alive pool and connection slots of one execution context.
class hub_pool_service : public boost::asio::execution_context::service {
public:
  using key_type = hub_pool_service;
  static inline boost::asio::execution_context::id id;
  explicit hub_pool_service(boost::asio::execution_context& ctx) : service(ctx) {}

  std::unique_ptr<hub_connection> take_idle(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void put_idle(const std::string& key, std::unique_ptr<hub_connection> c) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[key];
    if (list.size() < 64) list.push_back(std::move(c));
  }
  /// Claims a connection slot for `owner`; false when all are busy.
  bool try_claim(std::uint64_t owner, std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto& n = active_[owner];
    if (n >= limit) return false;
    ++n;
    return true;
  }
  void wait_list_add(boost::asio::steady_timer* t) {
    std::lock_guard lock(mutex_);
    waiters_.push_back(t);
  }
  void wait_list_remove(boost::asio::steady_timer* t) {
    std::lock_guard lock(mutex_);
    std::erase(waiters_, t);
  }
  void release(std::uint64_t owner) {
    std::lock_guard lock(mutex_);
    --active_[owner];
    if (!waiters_.empty()) {
      waiters_.front()->cancel();  // wakes the longest waiter
      waiters_.pop_front();
    }
  }

private:
  void shutdown() override {
    std::lock_guard lock(mutex_);
    idle_.clear();
  }
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<hub_connection>>> idle_;
  std::map<std::uint64_t, std::size_t> active_;
  std::deque<boost::asio::steady_timer*> waiters_;
};

/// How an answer is read: the string body capped at max_body_bytes, headers at 256 KiB.
using hub_response_parser = boost::beast::http::response_parser<boost::beast::http::string_body>;
inline constexpr std::uint32_t max_response_header_bytes = 256 * 1024;
/// The piece a streamed body (a download) is read in, when its owner gives no buffer of its own.
inline constexpr std::size_t download_chunk_bytes = 64 * 1024;

template <class Parser>
void limit_response(Parser& parser, const hub_options& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(max_response_header_bytes);
}

/// Status and header fields of an answer.
template <class Fields>
void copy_head(const boost::beast::http::response_header<Fields>& head, http_response& out) {
  out.status = head.result_int();
  for (const auto& field : head) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
}

/// The parsed answer as the sans-io protocol code takes it (the body is moved out).
inline http_response to_http_response(hub_response_parser& parser, bool token_sent) {
  http_response out;
  copy_head(parser.get().base(), out);
  out.token_sent = token_sent;
  out.body = std::move(parser.get().body());
  return out;
}

inline std::uint64_t next_fetcher_id() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

/// Maps transport errors to hfmm's where it has a name for them.
inline error_code map_transport_error(const error_code& ec) {
  namespace http = boost::beast::http;
  if (ec == boost::beast::error::timeout) return errc::timeout;
  if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return errc::bad_response;
  if (&ec.category() == &make_error_code(http::error::bad_version).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return errc::bad_response;  // malformed HTTP: bad chunk, bad field, ...
  return ec;
}

}  // namespace detail

template <class Unused = void>
class basic_hub_fetcher {
public:
  basic_hub_fetcher() : basic_hub_fetcher(hub_options{}) {}
  /// Fills empty options from the environment (see hub_options.hpp). Does no I/O; a bad
  /// endpoint or ca_file makes every call fail with invalid_argument.
  explicit basic_hub_fetcher(hub_options options);

  boost::asio::awaitable<result<repo_structure>> async_fetch_structure(std::string_view repo_id,
                                                                       std::string_view revision) {
    return detail::structure_of(fetch(std::string(repo_id), std::string(revision)));
  }
  /// The structure with the record-level model info of the commit (same requests).
  boost::asio::awaitable<result<fetched_model>> async_fetch_model(std::string_view repo_id, std::string_view revision) {
    return fetch(std::string(repo_id), std::string(revision));
  }
  boost::asio::awaitable<result<std::string>> async_resolve_revision(std::string_view repo_id,
                                                                     std::string_view revision) {
    return resolve(std::string(repo_id), std::string(revision));
  }
  /// The repositories a search of the Hub finds, with their current commits.
  boost::asio::awaitable<result<std::vector<listed_repo>>> async_list_repos(repo_listing_query query) {
    return list(std::move(query));
  }
  /// GET one URL (absolute, or a "/api/..." target on the endpoint) with retries, redirects and
  /// rate-limit handling. Non-2xx answers are returned, not turned into errors.
  boost::asio::awaitable<result<detail::http_response>> async_get(std::string url) { return get(std::move(url), nullptr); }
  /// GET one URL like async_get, the body of a 2xx answer streamed into `stream` (see
  /// download.hpp); other answers are returned with their bodies. `stream` must outlive the call.
  boost::asio::awaitable<result<detail::http_response>> async_download(std::string url, download_stream& stream) {
    return get(std::move(url), &stream);
  }

  std::string_view endpoint() const noexcept { return state_->options.endpoint; }
  const hub_options& options() const noexcept { return state_->options; }
  /// HTTP exchanges so far (each retry and redirect hop counts).
  std::size_t requests() const noexcept { return state_->requests.load(); }

private:
  struct state {
    hub_options options;
    error_code init_error;
    bool offline = false;
    std::uint64_t id = detail::next_fetcher_id();
    /// Made at the first TLS connection: loading the CA bundle cost 27 ms of every one-shot
    /// command, most of which never connect.
    std::optional<boost::asio::ssl::context> tls;
    std::once_flag tls_once;
    error_code tls_error;
    detail::http_origin endpoint_origin;
    std::optional<detail::http_url> proxy;
    std::string no_proxy;
    std::atomic<std::size_t> requests{0};
    std::mutex rate_mutex;
    std::optional<long long> rate_remaining;
    std::chrono::steady_clock::time_point rate_reset{};
    std::mt19937_64 rng{std::random_device{}()};
  };

  struct transport {
    basic_hub_fetcher* self;
    std::string_view endpoint() const noexcept { return self->endpoint(); }
    boost::asio::awaitable<result<detail::http_response>> async_get(std::string url) {
      return self->get(std::move(url), nullptr);
    }
  };

  boost::asio::awaitable<result<fetched_model>> fetch(std::string repo_id, std::string revision);
  boost::asio::awaitable<result<std::string>> resolve(std::string repo_id, std::string revision);
  boost::asio::awaitable<result<std::vector<listed_repo>>> list(repo_listing_query query);
  boost::asio::awaitable<result<detail::http_response>> get(std::string url, download_stream* stream);
  boost::asio::awaitable<result<detail::http_response>> send_once(const detail::http_url& url, bool at_endpoint,
                                                                  download_stream* stream);
  boost::asio::awaitable<result<std::unique_ptr<detail::hub_connection>>> connect(const detail::http_origin& origin);
  /// The TLS context, made once (thread-safe); invalid_argument when the CA file cannot be loaded.
  result<boost::asio::ssl::context*> tls_context();
  template <class Stream>
  boost::asio::awaitable<error_code> exchange(Stream& stream, detail::hub_connection& c,
                                              const boost::beast::http::request<boost::beast::http::empty_body>& req,
                                              detail::http_response& out, bool& header_read, bool& reusable,
                                              download_stream* body_stream);
  boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d);
  boost::asio::awaitable<void> pace(const std::string& url);
  void note_rate_limit(const detail::http_response& r);
  std::chrono::milliseconds backoff(int attempt);
  void report(hub_event e) const {
    if (state_->options.on_diagnostic) state_->options.on_diagnostic(e);
  }

  std::shared_ptr<state> state_;
};

using hub_fetcher = basic_hub_fetcher<>;

/// The Python Model Manager's call: a hub_fetcher built from the environment. (A template
/// only so that the fetcher's coroutines are compiled where this is called.)
template <hfmm::fetcher Fetcher = hub_fetcher>
result<repo_structure> fetch_huggingface_repo_structure(std::string_view repo_id, std::string_view branch = "main") {
  Fetcher f;
  return fetch_huggingface_repo_structure(f, repo_id, branch);
}

}  // namespace hfmm

#include <hfmm/impl/hub_fetcher.ipp>

static_assert(hfmm::revision_resolving_fetcher<hfmm::hub_fetcher>);
static_assert(hfmm::model_info_fetcher<hfmm::hub_fetcher>);
static_assert(hfmm::fetcher_with_endpoint<hfmm::hub_fetcher>);
static_assert(hfmm::counting_fetcher<hfmm::hub_fetcher>);
static_assert(hfmm::download_fetcher<hfmm::hub_fetcher>);
