#pragma once
// errc, its error category and result<T>.
//
// Expected failures are returned as result<T> (boost::system::result) and never thrown;
// result::value() throws boost::system::system_error for callers who prefer exceptions.
// TLS and socket failures pass through as their own Asio/SSL error codes.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace hfmm {

template <class T>
using result = boost::system::result<T>;
using error_code = boost::system::error_code;

/// hfmm's own error conditions. Values start at 1 and are only ever appended.
enum class errc {
  unauthorized = 1,    ///< 401 for an anonymous request: missing, private or gated repo
  token_rejected,      ///< 401 although a token was sent
  gated,               ///< X-Error-Code: GatedRepo
  repo_not_found,      ///< X-Error-Code: RepoNotFound, or an id the mock does not know
  revision_not_found,  ///< X-Error-Code: RevisionNotFound
  file_not_found,      ///< X-Error-Code: EntryNotFound; a missing file or directory
  rate_limited,        ///< 429 after the allowed waits
  http_status,         ///< another 4xx/5xx after retries
  bad_response,        ///< body not JSON, wrong types, missing keys, over a cap, redirect loop
  timeout,             ///< a deadline expired
  offline,             ///< HF_HUB_OFFLINE is set
  storage_io,          ///< the store could not be read or written (disk full, permissions)
  storage_corrupt,     ///< the store is not readable as a catalog; it was left untouched
  storage_locked,      ///< another writer holds the store
  storage_conflict,    ///< the journal's stamp does not match its base file
  schema_newer,        ///< written by a newer hfmm; left untouched
  model_not_found,     ///< no model with that id in the catalog
  invalid_argument,    ///< a bad argument (repo id, format, path)
  hash_mismatch,       ///< content does not match its recorded hash
  storage_read_only,   ///< a write to a store opened read-only, or whose file is read-only
};

/// Why an operation failed, in words a user can act on: for a store, its path, the position
/// in it and the cause ("catalog.json: model \"org/m\": file \"a.bin\": \"size\" should be a
/// non-negative integer"). Filled by the calls that take one when they fail.
class diagnostics {
public:
  const std::string& message() const noexcept { return message_; }
  bool empty() const noexcept { return message_.empty(); }
  void assign(std::string message) { message_ = std::move(message); }
  void clear() noexcept { message_.clear(); }

private:
  std::string message_;
};

namespace detail {
class errc_category final : public boost::system::error_category {
public:
  constexpr errc_category() noexcept : boost::system::error_category(0x6866'6d6d'0000'0001ull) {}
  const char* name() const noexcept override { return "hfmm"; }
  std::string message(int ev) const override { return describe(static_cast<errc>(ev)); }
  char const* message(int ev, char*, std::size_t) const noexcept override {
    return describe(static_cast<errc>(ev));
  }

  static const char* describe(errc e) noexcept {
    switch (e) {
      case errc::unauthorized: return "not found, private or gated — set HF_TOKEN to access it";
      case errc::token_rejected: return "the token was rejected — check HF_TOKEN";
      case errc::gated: return "the repository is gated — accept its terms on the Hub and set HF_TOKEN";
      case errc::repo_not_found: return "repository not found — check the repo id";
      case errc::revision_not_found: return "revision not found — check the branch, tag or commit";
      case errc::file_not_found: return "file or directory not found";
      case errc::rate_limited: return "rate limited by the Hub — wait, or set HF_TOKEN for a higher quota";
      case errc::http_status: return "the server answered with an unexpected HTTP status";
      case errc::bad_response: return "the server's response is malformed or exceeds a limit";
      case errc::timeout: return "the operation timed out — check the network or raise the timeout";
      case errc::offline: return "offline mode (HF_HUB_OFFLINE) — unset it to reach the Hub";
      case errc::storage_io: return "the store could not be read or written — check space and permissions";
      case errc::storage_corrupt: return "the store is corrupt or truncated; it was left untouched — restore it or move it away";
      case errc::storage_locked: return "the store is locked by another writer — close it first";
      case errc::storage_conflict: return "the store's journal does not match its file (rewritten by another program); nothing was changed — move the .journal file away to discard it";
      case errc::schema_newer: return "the store was written by a newer hfmm — upgrade hfmm";
      case errc::model_not_found: return "model not found in the catalog";
      case errc::invalid_argument: return "invalid argument";
      case errc::hash_mismatch: return "content does not match its recorded hash";
      case errc::storage_read_only: return "the store is read-only (opened for reading, or its file is not writable); nothing was changed";
    }
    return "unknown hfmm error";
  }
};
}  // namespace detail

inline const boost::system::error_category& hfmm_category() noexcept {
  static constexpr detail::errc_category instance;
  return instance;
}

/// The enumerator's name ("model_not_found"): a stable code for scripts (the CLI's --json errors).
inline std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::unauthorized: return "unauthorized";
    case errc::token_rejected: return "token_rejected";
    case errc::gated: return "gated";
    case errc::repo_not_found: return "repo_not_found";
    case errc::revision_not_found: return "revision_not_found";
    case errc::file_not_found: return "file_not_found";
    case errc::rate_limited: return "rate_limited";
    case errc::http_status: return "http_status";
    case errc::bad_response: return "bad_response";
    case errc::timeout: return "timeout";
    case errc::offline: return "offline";
    case errc::storage_io: return "storage_io";
    case errc::storage_corrupt: return "storage_corrupt";
    case errc::storage_locked: return "storage_locked";
    case errc::storage_conflict: return "storage_conflict";
    case errc::schema_newer: return "schema_newer";
    case errc::model_not_found: return "model_not_found";
    case errc::invalid_argument: return "invalid_argument";
    case errc::hash_mismatch: return "hash_mismatch";
    case errc::storage_read_only: return "storage_read_only";
  }
  return "unknown";
}

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), hfmm_category()};
}

}  // namespace hfmm

template <>
struct boost::system::is_error_code_enum<hfmm::errc> : std::true_type {};
