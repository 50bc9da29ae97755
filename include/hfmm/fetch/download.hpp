#pragma once
// download_stream: how a fetcher hands a download's body to its caller as it arrives, and the
// pure parsers of the headers a resumed download depends on (Content-Range, ETag).

#include <hfmm/concepts.hpp>
#include <hfmm/detail/hub_protocol.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hfmm {

/// Where a GET's body goes when it is streamed instead of collected. Redirects, retries before
/// the body and rate-limit waits happen inside the fetcher; once `on_head` has been called the
/// fetcher never retries (the caller knows how far it got and asks again with `from`).
struct download_stream {
  std::uint64_t from = 0;  ///< sends `Range: bytes=<from>-` when > 0
  std::uint64_t until = 0;  ///< when > 0, the range ends before this byte: `bytes=<from>-<until - 1>`
  /// Sent as `If-Range` with the range, to the endpoint's origin only: its ETags are the
  /// digests a pinned file has; another host (a CDN) names the same bytes differently.
  std::string if_range;
  /// Called once for a 2xx answer, before any body byte; an error aborts the download.
  std::function<error_code(const detail::http_response& head)> on_head;
  /// Called for each piece of the body, in order; an error aborts the download.
  std::function<error_code(std::string_view bytes)> on_data;
  /// Optional: the buffer the next piece is read into (so that on_data's bytes are the owner's
  /// own, handed on without a copy). Without it the fetcher reads into a buffer of its own.
  std::function<std::span<char>()> next_buffer;
  /// Set by the fetcher once on_head was called.
  bool started = false;
};

/// A fetcher that streams a file's bytes (hub_fetcher) can pull repositories (pull.hpp).
template <class F>
concept download_fetcher = fetcher<F> && requires(F f, std::string url, download_stream& stream) {
  { f.endpoint() } -> std::convertible_to<std::string_view>;
  { f.async_download(std::move(url), stream) } -> std::same_as<boost::asio::awaitable<result<detail::http_response>>>;
};

/// `Content-Range: bytes <first>-<last>/<total|*>` or `bytes */<total>` (of a 416).
struct content_range {
  std::optional<std::uint64_t> first, last;  ///< absent for "*/total"
  std::optional<std::uint64_t> total;        ///< absent for "/*"
};

namespace detail {

/// Errors of a broken connection: the fetcher retries a request on a new one, and a download's
/// owner resumes from the bytes it has.
inline bool is_connection_failure(const error_code& ec) {
  namespace http = boost::beast::http;
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
         ec == boost::asio::error::broken_pipe || ec == boost::asio::error::connection_aborted ||
         ec == boost::asio::error::connection_refused || ec == http::error::end_of_stream ||
         ec == http::error::partial_message || ec == boost::asio::ssl::error::stream_truncated;
}

inline bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace detail

/// Parses a Content-Range value; nullopt when it is malformed or first > last or last >= total.
inline std::optional<content_range> parse_content_range(std::string_view v) noexcept {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  auto slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto range = v.substr(0, slash), total = v.substr(slash + 1);
  content_range out;
  if (total != "*") {
    std::uint64_t t = 0;
    if (!detail::parse_decimal(total, t)) return std::nullopt;
    out.total = t;
  }
  if (range == "*") return out.total ? std::optional(out) : std::nullopt;
  auto dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint64_t a = 0, b = 0;
  if (!detail::parse_decimal(range.substr(0, dash), a) || !detail::parse_decimal(range.substr(dash + 1), b) || a > b)
    return std::nullopt;
  if (out.total && b >= *out.total) return std::nullopt;
  out.first = a, out.last = b;
  return out;
}

/// The opaque value of an ETag header: `W/"x"` and `"x"` give `x`; an unquoted value is taken as
/// it is (some servers omit the quotes). Empty when the header is empty or malformed.
inline std::string_view parse_etag(std::string_view v) noexcept {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.starts_with("W/")) v.remove_prefix(2);
  if (v.starts_with('"')) {
    if (v.size() < 2 || !v.ends_with('"')) return {};
    v = v.substr(1, v.size() - 2);
  }
  for (char c : v)
    if (c == '"' || static_cast<unsigned char>(c) < 0x21 || c == 0x7F) return {};
  return v;
}

}  // namespace hfmm
