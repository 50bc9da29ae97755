#pragma once
// URL splitting, proxy selection and the parsers of Retry-After and RateLimit headers.
// Pure functions, tested offline.

#include <hfmm/detail/ascii.hpp>
#include <hfmm/error.hpp>

#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hfmm::detail {

struct http_origin {
  bool tls = true;
  std::string host;  ///< without brackets for IPv6 literals
  std::string port;
  bool operator==(const http_origin&) const = default;
  std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

struct http_url {
  http_origin origin;
  std::string target;  ///< path and query, starting with '/'
};

/// Splits "http[s]://host[:port]/path?query". Userinfo, other schemes and control characters
/// are refused.
inline result<http_url> parse_http_url(std::string_view url) {
  http_url out;
  if (url.starts_with("https://")) url.remove_prefix(8), out.origin.tls = true;
  else if (url.starts_with("http://")) url.remove_prefix(7), out.origin.tls = false;
  else return errc::invalid_argument;
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7F) return errc::invalid_argument;
  auto end = url.find_first_of("/?#");
  auto authority = url.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return errc::invalid_argument;
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return errc::invalid_argument;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return errc::invalid_argument;
      port = rest.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return errc::invalid_argument;
  if (!port.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535) return errc::invalid_argument;
  }
  lower_ascii_into(out.origin.host, host);
  out.origin.port = port.empty() ? (out.origin.tls ? "443" : "80") : std::string(port);
  std::string_view rest = end == std::string_view::npos ? std::string_view("/") : url.substr(end);
  if (rest.starts_with('#')) rest = "/";
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  out.target = rest.starts_with('?') ? "/" + std::string(rest) : std::string(rest);
  return out;
}

/// The Host header value: the host, with the port when it is not the scheme's default.
inline std::string host_header(const http_origin& o) {
  std::string h = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  if (o.port != (o.tls ? "443" : "80")) h += ":" + o.port;
  return h;
}

/// Whether NO_PROXY (comma-separated hosts, ".suffix" or "suffix" domains, "*") exempts `host`.
inline bool proxy_exempt(std::string_view no_proxy, std::string_view host) {
  while (!no_proxy.empty()) {
    auto comma = no_proxy.find(',');
    auto item = no_proxy.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (auto colon = item.rfind(':'); colon != std::string_view::npos && item.find(']') == std::string_view::npos &&
                                      item.find(':') == colon)
      item = item.substr(0, colon);  // "host:port" entries match the host
    if (item == "*") return true;
    if (item.starts_with('.')) item.remove_prefix(1);
    if (!item.empty() && (host == item || (host.size() > item.size() && host.ends_with(item) &&
                                           host[host.size() - item.size() - 1] == '.')))
      return true;
    if (comma == std::string_view::npos) break;
    no_proxy.remove_prefix(comma + 1);
  }
  return false;
}

/// Retry-After: delta-seconds (HTTP dates are not honoured: the Hub sends seconds).
inline std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  long long s = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || s < 0 || s > 86400) return std::nullopt;
  return std::chrono::seconds(s);
}

/// RateLimit: `"api";r=<remaining>;t=<seconds until reset>` (IETF draft, as the Hub sends it).
struct rate_limit_info {
  std::optional<long long> remaining;
  std::optional<std::chrono::seconds> reset;
};

inline rate_limit_info parse_rate_limit(std::string_view v) {
  rate_limit_info out;
  auto number = [](std::string_view s) -> std::optional<long long> {
    long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || n < 0 || n > 10'000'000) return std::nullopt;
    return n;
  };
  while (!v.empty()) {
    auto semi = v.find_first_of(";,");
    auto item = v.substr(0, semi);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("r=")) out.remaining = number(item.substr(2));
    else if (item.starts_with("t=")) {
      if (auto t = number(item.substr(2))) out.reset = std::chrono::seconds(*t);
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return out;
}

}  // namespace hfmm::detail
