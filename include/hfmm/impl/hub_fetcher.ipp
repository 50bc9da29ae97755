#pragma once
// Bodies of <hfmm/fetch/hub_fetcher.hpp>.

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace hfmm {

template <class U>
basic_hub_fetcher<U>::basic_hub_fetcher(hub_options options) : state_(std::make_shared<state>()) {
  auto& s = *state_;
  s.options = detail::resolve_hub_options(std::move(options));
  s.offline = detail::hub_offline_from_env();
  if (auto url = detail::parse_http_url(s.options.endpoint)) s.endpoint_origin = url->origin;
  else s.init_error = errc::invalid_argument;
  auto proxy = detail::env_or("HTTPS_PROXY", detail::env_or("https_proxy"));
  if (!proxy.empty()) {
    if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
    if (auto p = detail::parse_http_url(proxy); p && !p->origin.tls) s.proxy = *p;
    else s.init_error = errc::invalid_argument;  // only http:// proxies (CONNECT) are supported
  }
  s.no_proxy = detail::env_or("NO_PROXY", detail::env_or("no_proxy"));
}

template <class U>
result<boost::asio::ssl::context*> basic_hub_fetcher<U>::tls_context() {
  auto& s = *state_;
  std::call_once(s.tls_once, [&s] {
    s.tls.emplace(boost::asio::ssl::context::tls_client);
    error_code ec;
    if (!s.options.ca_file.empty()) s.tls->load_verify_file(s.options.ca_file, ec);
    else s.tls->set_default_verify_paths(ec);
    if (ec) s.tls_error = errc::invalid_argument;
    s.tls->set_verify_mode(boost::asio::ssl::verify_peer);
  });
  if (s.tls_error) return s.tls_error;
  return &*s.tls;
}

template <class U>
boost::asio::awaitable<result<fetched_model>> basic_hub_fetcher<U>::fetch(std::string repo_id, std::string revision) {
  transport t{this};
  detail::listing_limits limits;
  limits.max_entries = state_->options.max_entries;
  limits.trust_siblings = !state_->options.tree_listing;
  co_return co_await detail::fetch_listing(t, repo_id, revision, limits);
}

template <class U>
boost::asio::awaitable<result<std::vector<listed_repo>>> basic_hub_fetcher<U>::list(repo_listing_query query) {
  transport t{this};
  co_return co_await detail::list_repositories(t, std::move(query));
}

template <class U>
boost::asio::awaitable<result<std::string>> basic_hub_fetcher<U>::resolve(std::string repo_id, std::string revision) {
  auto ref = detail::parse_repo_id(repo_id);
  if (!ref) co_return ref.error();
  if (!detail::valid_revision(revision)) co_return errc::invalid_argument;
  transport t{this};
  co_return co_await detail::resolve_revision(t, *ref, revision);
}

template <class U>
boost::asio::awaitable<void> basic_hub_fetcher<U>::sleep_for(std::chrono::milliseconds d) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  error_code ec;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

template <class U>
std::chrono::milliseconds basic_hub_fetcher<U>::backoff(int attempt) {
  using namespace std::chrono;
  auto base = state_->options.retry_base_delay * (1LL << std::min(attempt, 16));
  auto capped = std::min<milliseconds>(duration_cast<milliseconds>(base), seconds(30));
  std::lock_guard lock(state_->rate_mutex);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return milliseconds(static_cast<long long>(static_cast<double>(capped.count()) * jitter(state_->rng)));
}

template <class U>
void basic_hub_fetcher<U>::note_rate_limit(const detail::http_response& r) {
  auto header = r.header("RateLimit");
  if (header.empty()) return;
  auto info = detail::parse_rate_limit(header);
  std::lock_guard lock(state_->rate_mutex);
  state_->rate_remaining = info.remaining;
  state_->rate_reset = std::chrono::steady_clock::now() + info.reset.value_or(std::chrono::seconds(0));
}

template <class U>
boost::asio::awaitable<void> basic_hub_fetcher<U>::pace(const std::string& url) {
  using namespace std::chrono;
  milliseconds wait{0};
  {
    std::lock_guard lock(state_->rate_mutex);
    auto now = steady_clock::now();
    // Spread what is left of the window over the time left, once few requests remain.
    constexpr long long low_water = 8;
    if (state_->rate_remaining && *state_->rate_remaining <= low_water && state_->rate_reset > now) {
      wait = duration_cast<milliseconds>(state_->rate_reset - now) / (*state_->rate_remaining + 1);
      if (*state_->rate_remaining > 0) --*state_->rate_remaining;  // this request uses one
    }
  }
  if (wait.count() > 0) {
    report({.what = hub_event::kind::pacing, .url = url, .status = 0, .error = {}, .wait = wait});
    co_await sleep_for(wait);
  }
}

template <class U>
boost::asio::awaitable<result<detail::http_response>> basic_hub_fetcher<U>::get(std::string url, download_stream* stream) {
  auto& s = *state_;
  if (s.offline) co_return errc::offline;
  if (s.init_error) co_return s.init_error;
  std::string current = url.starts_with('/') ? s.options.endpoint + url : std::move(url);
  int hops = 0, attempt = 0;
  for (;;) {
    auto parsed = detail::parse_http_url(current);
    if (!parsed) co_return errc::bad_response;  // a Link or Location we cannot follow
    co_await pace(current);
    auto r = co_await send_once(*parsed, parsed->origin == s.endpoint_origin, stream);
    if (!r) {
      auto ec = r.error();
      // Once a body began to stream, its owner resumes from where it got to.
      if (detail::is_connection_failure(ec) && attempt < s.options.max_retries && !(stream && stream->started)) {
        auto wait = backoff(attempt++);
        report({.what = hub_event::kind::retry, .url = current, .error = ec, .wait = wait, .attempt = attempt});
        co_await sleep_for(wait);
        continue;
      }
      co_return detail::map_transport_error(ec);
    }
    note_rate_limit(*r);
    auto status = r->status;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      auto location = r->header("Location");
      if (location.empty() || ++hops > 5) co_return errc::bad_response;  // no target, or a loop
      auto next = detail::resolve_reference(current, location);
      report({.what = hub_event::kind::redirect, .url = next, .status = status, .error = {}, .wait = {}, .attempt = 0});
      current = std::move(next);
      continue;
    }
    if (status == 429) {
      // Wait exactly what the server says; without a reset time, do not retry blindly.
      std::optional<std::chrono::seconds> wait = detail::parse_rate_limit(r->header("RateLimit")).reset;
      if (auto ra = detail::parse_retry_after(r->header("Retry-After")); ra && (!wait || *ra > *wait)) wait = ra;
      if (!wait || *wait > s.options.max_rate_limit_wait || attempt >= s.options.max_retries) co_return r;
      ++attempt;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*wait) + std::chrono::milliseconds(50);
      report({.what = hub_event::kind::rate_limit_wait, .url = current, .status = status, .error = {}, .wait = ms, .attempt = attempt});
      co_await sleep_for(ms);
      continue;
    }
    if ((status == 408 || status >= 500) && attempt < s.options.max_retries) {
      auto wait = backoff(attempt++);
      report({.what = hub_event::kind::retry, .url = current, .status = status, .error = {}, .wait = wait, .attempt = attempt});
      co_await sleep_for(wait);
      continue;
    }
    co_return r;
  }
}

template <class U>
template <class Stream>
boost::asio::awaitable<error_code> basic_hub_fetcher<U>::exchange(
    Stream& stream, detail::hub_connection& c, const boost::beast::http::request<boost::beast::http::empty_body>& req,
    detail::http_response& out, bool& header_read, bool& reusable, download_stream* body_stream) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  const auto timeout = state_->options.request_timeout;
  error_code ec;
  c.lowest().expires_after(timeout);
  co_await http::async_write(stream, req, redirect_error(use_awaitable, ec));
  if (ec) co_return ec;

  if (!body_stream) {  // an API answer: the whole body, capped
    detail::hub_response_parser parser;
    detail::limit_response(parser, state_->options);
    c.lowest().expires_after(timeout);
    co_await http::async_read(stream, c.buffer, parser, redirect_error(use_awaitable, ec));
    header_read = parser.is_header_done();
    if (ec) co_return ec;
    out = detail::to_http_response(parser, out.token_sent);
    reusable = parser.get().keep_alive();
    co_return error_code{};
  }

  // A download: the header first, then a 2xx body streamed to its owner.
  http::response_parser<http::empty_body> head;
  head.header_limit(detail::max_response_header_bytes);
  head.body_limit(boost::none);  // a file may be larger than any API answer; capped below when collected
  c.lowest().expires_after(timeout);
  co_await http::async_read_header(stream, c.buffer, head, redirect_error(use_awaitable, ec));
  if (ec) co_return ec;
  header_read = true;
  detail::copy_head(head.get().base(), out);
  if (out.status / 100 != 2 || head.is_done()) {
    // An error, a redirect or an empty file: read as any answer.
    if (head.is_done()) {
      reusable = head.get().keep_alive();
      if (out.status / 100 == 2) {
        body_stream->started = true;
        if (auto e = body_stream->on_head(out)) co_return e;
      }
      co_return error_code{};
    }
    detail::hub_response_parser whole(std::move(head));
    detail::limit_response(whole, state_->options);
    c.lowest().expires_after(timeout);
    co_await http::async_read(stream, c.buffer, whole, redirect_error(use_awaitable, ec));
    if (ec) co_return ec;
    out.body = std::move(whole.get().body());
    reusable = whole.get().keep_alive();
    co_return error_code{};
  }
  body_stream->started = true;
  if (auto e = body_stream->on_head(out)) co_return e;
  std::vector<char> chunk(detail::download_chunk_bytes);
  // Reads of up to 64 KiB (Beast reads only what the buffer has room for, which would otherwise
  // stay the size the header needed: reads of a few hundred bytes).
  c.buffer.reserve(64 * 1024);

  if (auto length = head.content_length()) {
    // A known length: the bytes go from the stream straight into the piece (no parser copy).
    std::uint64_t remaining = *length;
    std::span<char> piece(chunk);
    std::size_t filled = 0;
    auto deliver = [&]() -> error_code {
      auto e = filled ? body_stream->on_data({piece.data(), filled}) : error_code{};
      filled = 0;
      return e;
    };
    while (remaining > 0) {
      if (filled == 0 && body_stream->next_buffer) piece = body_stream->next_buffer();
      std::size_t n = 0;
      if (c.buffer.size() > 0) {  // what came with the header
        n = std::min<std::size_t>({c.buffer.size(), piece.size() - filled, static_cast<std::size_t>(remaining)});
        boost::asio::buffer_copy(boost::asio::buffer(piece.data() + filled, n), c.buffer.data());
        c.buffer.consume(n);
      } else {
        auto room = std::min<std::size_t>(piece.size() - filled, static_cast<std::size_t>(remaining));
        c.lowest().expires_after(timeout);
        n = co_await stream.async_read_some(boost::asio::buffer(piece.data() + filled, room),
                                            redirect_error(use_awaitable, ec));
      }
      filled += n;
      remaining -= n;
      if (ec) {  // what arrived before the failure is handed on too: the owner resumes after it
        if (auto e = deliver()) co_return e;
        co_return ec == boost::asio::error::eof ? error_code(http::error::partial_message) : ec;
      }
      if (filled == piece.size() || remaining == 0)
        if (auto e = deliver()) co_return e;
    }
    reusable = head.get().keep_alive();
    co_return error_code{};
  }

  http::response_parser<http::buffer_body> body(std::move(head));  // chunked, or up to the close
  body.body_limit(boost::none);  // the stream's owner bounds what it accepts
  while (!body.is_done()) {
    body.get().body().data = chunk.data();
    body.get().body().size = chunk.size();
    // Fill the chunk (several reads), then hand it on: one write and one hash update per chunk.
    while (!ec && !body.is_done() && body.get().body().size > 0) {
      c.lowest().expires_after(timeout);
      co_await http::async_read_some(stream, c.buffer, body, redirect_error(use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
    }
    // What arrived before a failure is handed on too: the owner resumes after it.
    if (auto n = chunk.size() - body.get().body().size; n > 0)
      if (auto e = body_stream->on_data({chunk.data(), n})) co_return e;
    if (ec) co_return ec;
  }
  reusable = body.get().keep_alive();
  co_return error_code{};
}

template <class U>
boost::asio::awaitable<result<std::unique_ptr<detail::hub_connection>>> basic_hub_fetcher<U>::connect(
    const detail::http_origin& origin) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  using asio::redirect_error;
  using asio::use_awaitable;
  auto& s = *state_;
  auto tls = origin.tls ? tls_context() : result<asio::ssl::context*>(nullptr);
  if (!tls) co_return tls.error();
  auto ex = co_await asio::this_coro::executor;
  bool via_proxy = s.proxy && origin.tls && !detail::proxy_exempt(s.no_proxy, origin.host);
  const auto& hop = via_proxy ? s.proxy->origin : origin;

  error_code ec;
  asio::ip::tcp::resolver resolver(ex);
  asio::steady_timer resolve_deadline(ex, s.options.connect_timeout);
  bool resolve_timed_out = false;
  resolve_deadline.async_wait([&resolver, &resolve_timed_out](error_code e) {
    if (!e) resolve_timed_out = true, resolver.cancel();
  });
  auto endpoints = co_await resolver.async_resolve(hop.host, hop.port, redirect_error(use_awaitable, ec));
  resolve_deadline.cancel();
  if (resolve_timed_out) co_return errc::timeout;
  if (ec) co_return ec;

  auto tcp = std::make_unique<boost::beast::tcp_stream>(ex);
  tcp->expires_after(s.options.connect_timeout);
  co_await tcp->async_connect(endpoints, redirect_error(use_awaitable, ec));
  if (ec) co_return ec;
  // Request/response traffic: without this, Nagle and delayed ACKs add ~40 ms per exchange.
  tcp->socket().set_option(asio::ip::tcp::no_delay(true), ec);

  if (via_proxy) {  // CONNECT tunnel: the TLS session runs end to end through it
    http::request<http::empty_body> req{http::verb::connect, origin.host + ":" + origin.port, 11};
    req.set(http::field::host, origin.host + ":" + origin.port);
    req.set(http::field::user_agent, s.options.user_agent);
    tcp->expires_after(s.options.request_timeout);
    co_await http::async_write(*tcp, req, redirect_error(use_awaitable, ec));
    if (ec) co_return ec;
    boost::beast::flat_buffer buf;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a CONNECT answer has no body
    co_await http::async_read_header(*tcp, buf, parser, redirect_error(use_awaitable, ec));
    if (ec) co_return detail::map_transport_error(ec);
    if (parser.get().result_int() != 200) co_return errc::http_status;
  }

  auto c = std::make_unique<detail::hub_connection>();
  if (!origin.tls) {
    c->plain = std::move(tcp);
    co_return c;
  }
  c->secure = std::make_unique<boost::beast::ssl_stream<boost::beast::tcp_stream>>(std::move(*tcp), **tls);
  SSL* ssl = c->secure->native_handle();
  auto* param = SSL_get0_param(ssl);
  error_code ip_ec;
  asio::ip::make_address(origin.host, ip_ec);
  if (ip_ec) {  // a host name: SNI, and the certificate must name it
    SSL_set_tlsext_host_name(ssl, origin.host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, origin.host.c_str(), origin.host.size());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(param, origin.host.c_str());
  }
  c->secure->set_verify_mode(asio::ssl::verify_peer);
  c->lowest().expires_after(s.options.connect_timeout);
  co_await c->secure->async_handshake(asio::ssl::stream_base::client, redirect_error(use_awaitable, ec));
  if (ec) co_return ec;
  co_return c;
}

template <class U>
boost::asio::awaitable<result<detail::http_response>> basic_hub_fetcher<U>::send_once(const detail::http_url& url,
                                                                                      bool at_endpoint,
                                                                                      download_stream* stream) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  auto& s = *state_;
  auto ex = co_await asio::this_coro::executor;
  auto& pool = asio::use_service<detail::hub_pool_service>(asio::query(ex, asio::execution::context));

  // A connection slot (max_connections per executor), held until this exchange ends.
  while (!pool.try_claim(s.id, std::max<std::size_t>(1, s.options.max_connections))) {
    asio::steady_timer wake(ex, std::chrono::seconds(1));  // a release cancels it; re-check anyway
    pool.wait_list_add(&wake);
    error_code ec;
    co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    pool.wait_list_remove(&wake);
  }
  struct slot_guard {
    detail::hub_pool_service& pool;
    std::uint64_t id;
    ~slot_guard() { pool.release(id); }
  } slot{pool, s.id};

  http::request<http::empty_body> req{http::verb::get, url.target, 11};
  req.set(http::field::host, detail::host_header(url.origin));
  req.set(http::field::user_agent, s.options.user_agent);
  req.set(http::field::accept, stream ? "*/*" : "application/json");
  req.set(http::field::accept_encoding, "identity");
  // The token goes to the endpoint's origin only: never to a redirect or page elsewhere.
  bool with_token = at_endpoint && !s.options.token.empty();
  if (with_token) req.set(http::field::authorization, "Bearer " + s.options.token);
  if (stream && (stream->from > 0 || stream->until > 0)) {
    req.set(http::field::range, "bytes=" + std::to_string(stream->from) + "-" +
                                    (stream->until > 0 ? std::to_string(stream->until - 1) : std::string()));
    if (at_endpoint && !stream->if_range.empty()) req.set(http::field::if_range, "\"" + stream->if_range + "\"");
  }

  auto key = std::to_string(s.id) + " " + url.origin.key();
  for (int fresh_try = 0;; ++fresh_try) {
    auto conn = pool.take_idle(key);
    bool reused = conn != nullptr;
    if (!conn) {
      auto made = co_await connect(url.origin);
      if (!made) co_return made.error();
      conn = std::move(*made);
    }
    detail::http_response out;
    out.token_sent = with_token;
    bool header_read = false, reusable = false;
    ++s.requests;
    error_code ec = conn->secure ? co_await exchange(*conn->secure, *conn, req, out, header_read, reusable, stream)
                                 : co_await exchange(*conn->plain, *conn, req, out, header_read, reusable, stream);
    if (ec) {
      // A pooled connection the server closed meanwhile (nothing came back): try once more
      // on a new one. A failure after the answer began is the caller's to retry.
      if (reused && fresh_try == 0 && !header_read && detail::is_connection_failure(ec)) continue;
      co_return ec;
    }
    if (reusable) {
      conn->buffer.clear();
      pool.put_idle(key, std::move(conn));
    }
    co_return out;
  }
}

}  // namespace hfmm
