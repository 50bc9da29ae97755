#pragma once
// Recorded Hub exchanges (the format of fixtures/hub/recordings.json) and their matching
// rules: equal method, equal raw path (escapes compared case-insensitively, scheme and host
// ignored), every recorded query parameter present with the same decoded value; the most
// recorded parameters win, then the first listed.

#include <hfmm/detail/config.hpp>
#include <hfmm/detail/hub_protocol.hpp>

#include <filesystem>
#include <map>

namespace hfmm::detail {

struct recorded_exchange {
  std::string method, path;                                 // path without query
  std::vector<std::pair<std::string, std::string>> query;   // decoded
  http_response response;
  std::string repo_key;                                     // "models/org/name"
};

/// Splits an origin-less target or absolute URL into (path, decoded query parameters).
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> split_target(std::string_view url);
/// "models/org/name" for /api/models/org/name/<verb>/...; empty for other paths.
std::string repo_key_of(std::string_view path);

class recording_set {
public:
  /// Loads dir/recordings.json and the bodies it names. Errors: file_not_found,
  /// bad_response (not the expected format), storage_io.
  static result<recording_set> load(const std::filesystem::path& dir);

  /// The answer to GET `url`, following the matching rules and the recordings' fallbacks.
  http_response answer(std::string_view url) const;

  std::size_t size() const noexcept { return exchanges_.size(); }

private:
  static result<std::string> read_file(const std::filesystem::path& p);
  std::vector<recorded_exchange> exchanges_;
  std::map<std::string, bool, std::less<>> known_repos_;
};

}  // namespace hfmm::detail

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/recordings.ipp>
#endif
