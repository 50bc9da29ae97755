// Fuzz target: the header parsers a server controls — Link, Retry-After, RateLimit, and a
// download's Content-Range and ETag — and the URL splitting/resolution a Link or Location goes
// through. Input: "<base>\n<header value>".

#include "fuzz_support.hpp"

#include <hfmm/detail/http_util.hpp>
#include <hfmm/detail/hub_protocol.hpp>
#include <hfmm/fetch/download.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm::detail;
  auto text = hfmm::fuzz::as_text(data, size);
  auto newline = text.find('\n');
  auto base = newline == std::string_view::npos ? std::string_view("https://huggingface.co/api/models/a/b/tree/main")
                                                : text.substr(0, newline);
  auto value = newline == std::string_view::npos ? text : text.substr(newline + 1);

  if (auto next = parse_link_next(value)) {
    HFMM_FUZZ_CHECK(value.find(*next) != std::string_view::npos);
    HFMM_FUZZ_CHECK(next->find('>') == std::string::npos);
    auto resolved = resolve_reference(base, *next);
    auto base_url = parse_http_url(base);
    auto resolved_url = parse_http_url(resolved);
    // A relative reference never leaves the origin it came from.
    if (base_url && resolved_url && next->starts_with('/') && !next->starts_with("//"))
      HFMM_FUZZ_CHECK(resolved_url->origin == base_url->origin);
    if (!url_origin(*next).empty()) HFMM_FUZZ_CHECK(resolved == *next);
  }
  if (auto wait = parse_retry_after(value)) HFMM_FUZZ_CHECK(wait->count() >= 0 && wait->count() <= 86400);
  auto limit = parse_rate_limit(value);
  if (limit.remaining) HFMM_FUZZ_CHECK(*limit.remaining >= 0 && *limit.remaining <= 10'000'000);
  if (limit.reset) HFMM_FUZZ_CHECK(limit.reset->count() >= 0 && limit.reset->count() <= 10'000'000);

  // What a resumed download trusts: the range it gets back, and the name the server gives the file.
  if (auto range = hfmm::parse_content_range(value)) {
    HFMM_FUZZ_CHECK(range->first.has_value() == range->last.has_value());
    HFMM_FUZZ_CHECK(range->first || range->total);
    if (range->first) HFMM_FUZZ_CHECK(*range->first <= *range->last);
    if (range->first && range->total) HFMM_FUZZ_CHECK(*range->last < *range->total);
  }
  auto etag = hfmm::parse_etag(value);
  HFMM_FUZZ_CHECK(value.find(etag) != std::string_view::npos);
  for (unsigned char c : etag) HFMM_FUZZ_CHECK(c > 0x20 && c != 0x7F && c != '"');

  if (auto url = parse_http_url(value)) {
    HFMM_FUZZ_CHECK(!url->origin.host.empty());
    HFMM_FUZZ_CHECK(url->target.starts_with('/'));
    HFMM_FUZZ_CHECK(url->origin.host.find('@') == std::string::npos);
    for (unsigned char c : url->target) HFMM_FUZZ_CHECK(c > 0x20 && c != 0x7F);
    int port = std::stoi(url->origin.port);
    HFMM_FUZZ_CHECK(port >= 1 && port <= 65535);
    (void)host_header(url->origin);
    (void)proxy_exempt(base, url->origin.host);
  }
  return 0;
}
