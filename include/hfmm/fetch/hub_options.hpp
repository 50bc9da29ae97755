#pragma once
// hub_options and hub_event: how hub_fetcher reaches the Hub, and what it reports.
//
// Empty fields are filled from the environment when the fetcher is built:
//   endpoint   ← HF_ENDPOINT, else https://huggingface.co (http:// is allowed for local mirrors)
//   token      ← HF_TOKEN, else the token file: HF_TOKEN_PATH, else $HF_HOME/token, else
//                ~/.cache/huggingface/token
//   user_agent ← hfmm/<version>
// HF_HUB_OFFLINE=1 makes every call fail with errc::offline without touching the network;
// HTTPS_PROXY/https_proxy (and NO_PROXY/no_proxy) route HTTPS through a CONNECT tunnel.

#include <hfmm/detail/ascii.hpp>
#include <hfmm/error.hpp>
#include <hfmm/structure.hpp>
#include <hfmm/version.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

namespace hfmm {

/// One diagnostic: a retry, a rate-limit wait, pacing or a redirect. Never carries the token.
struct hub_event {
  enum class kind { retry, rate_limit_wait, pacing, redirect };
  kind what = kind::retry;
  std::string url;                     ///< the request URL (no credentials)
  unsigned status = 0;                 ///< the HTTP status that caused it, 0 for a network error
  error_code error;                    ///< the network error, when there was one
  std::chrono::milliseconds wait{0};   ///< how long hfmm waits before going on
  int attempt = 0;                     ///< 1 for the first retry
};

struct hub_options {
  std::string endpoint;  ///< "" → HF_ENDPOINT, else https://huggingface.co
  std::string token;     ///< "" → HF_TOKEN, else the token file
  std::string ca_file;   ///< PEM bundle to trust instead of the system store
  std::chrono::milliseconds connect_timeout{10000};  ///< per step: resolve, connect, TLS handshake
  std::chrono::milliseconds request_timeout{30000};  ///< per step: send the request, read the answer
  int max_retries = 5;                                ///< for 408, 5xx and broken connections
  std::uint64_t max_body_bytes = 256ull << 20;        ///< one response body
  std::size_t max_entries = 1'000'000;                ///< entries of one listing, all pages
  std::size_t max_connections = 64;                   ///< per executor
  std::string user_agent;                             ///< "" → hfmm/<version>
  std::function<void(const hub_event&)> on_diagnostic;
  // Appended members (members are only ever appended: designated initializers keep working)
  std::chrono::milliseconds retry_base_delay{250};    ///< first backoff; doubles, jittered, capped at 30 s
  std::chrono::seconds max_rate_limit_wait{300};      ///< a 429 asking for longer fails at once
  /// Always list the tree, even when the revision answer lists every file (one request more
  /// per repository, and every file's xetHash, which that answer lacks).
  bool tree_listing = false;
};

namespace detail {

inline std::string env_or(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

inline std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

/// The token file: HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token.
inline std::filesystem::path token_file_path() {
  if (auto p = env_or("HF_TOKEN_PATH"); !p.empty()) return p;
  if (auto home = env_or("HF_HOME"); !home.empty()) return std::filesystem::path(home) / "token";
  return std::filesystem::path(env_or("HOME", "/")) / ".cache" / "huggingface" / "token";
}

/// Fills the empty fields of `o` from the environment.
inline hub_options resolve_hub_options(hub_options o) {
  if (o.endpoint.empty()) o.endpoint = env_or("HF_ENDPOINT", std::string(default_endpoint));
  while (o.endpoint.size() > 1 && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.token.empty()) o.token = env_or("HF_TOKEN");
  if (o.token.empty()) {
    std::ifstream in(token_file_path());
    std::string line;
    if (in && std::getline(in, line)) o.token = trim(line);
  }
  if (o.user_agent.empty()) o.user_agent = "hfmm/" HFMM_VERSION_STRING;
  return o;
}

inline bool hub_offline_from_env() {
  auto v = to_lower_ascii(env_or("HF_HUB_OFFLINE"));
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

}  // namespace detail
}  // namespace hfmm
