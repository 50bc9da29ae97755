// Fuzz target: repo-id validation and the revision/path encoders that build request targets
// and download URLs. Input: "<repo id>\n<revision or file path>".
// Invariants: an accepted id cannot change the URL path; encodings decode back to the input
// and hold only unreserved characters and %XX (and '/' between path segments).

#include "fuzz_support.hpp"

#include <hfmm/detail/hex.hpp>
#include <hfmm/detail/http_util.hpp>
#include <hfmm/detail/hub_protocol.hpp>

#include <algorithm>
#include <cctype>

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // the encoders write upper-case digits only
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    HFMM_FUZZ_CHECK(i + 2 < s.size());
    int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    HFMM_FUZZ_CHECK(hi >= 0 && lo >= 0);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

void check_encoded(std::string_view encoded, bool slash_allowed) {
  for (unsigned char c : encoded)
    HFMM_FUZZ_CHECK(hfmm::detail::is_unreserved(c) || c == '%' || (slash_allowed && c == '/'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm;
  auto text = fuzz::as_text(data, size);
  auto newline = text.find('\n');
  auto id = text.substr(0, newline);
  auto rest = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);

  std::string segment;
  detail::append_encoded_segment(segment, rest);
  check_encoded(segment, false);
  HFMM_FUZZ_CHECK(percent_decode(segment) == rest);
  std::string path;
  detail::append_encoded_path(path, rest);
  check_encoded(path, true);
  HFMM_FUZZ_CHECK(percent_decode(path) == rest);

  auto ref = detail::parse_repo_id(id);
  if (!ref) return 0;
  std::string_view rid = ref->id;
  auto slash = rid.find('/');
  auto owner = rid.substr(0, slash), name = slash == std::string_view::npos ? owner : rid.substr(slash + 1);
  HFMM_FUZZ_CHECK(owner != "." && owner != ".." && name != "." && name != ".." && !name.empty());
  HFMM_FUZZ_CHECK(std::count(ref->id.begin(), ref->id.end(), '/') <= 1);
  for (unsigned char c : ref->id) HFMM_FUZZ_CHECK(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/');
  if (!detail::valid_revision(rest)) return 0;
  auto target = detail::tree_target(*ref, rest);
  auto url = detail::parse_http_url("https://huggingface.co" + target);
  HFMM_FUZZ_CHECK(url.has_value());
  HFMM_FUZZ_CHECK(url->origin.host == "huggingface.co");
  HFMM_FUZZ_CHECK(url->target == target);  // nothing in it is read as a query, fragment or authority
  auto prefix = standard_url_prefix("https://huggingface.co", ref->type, ref->id, rest);
  HFMM_FUZZ_CHECK(prefix.ends_with('/'));
  HFMM_FUZZ_CHECK(detail::parse_http_url(prefix)->origin.host == "huggingface.co");
  return 0;
}
