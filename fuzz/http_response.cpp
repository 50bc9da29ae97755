// Fuzz target: the Hub client's handling of raw response bytes — the same Beast parser with
// the same limits as hub_fetcher, then the listing driver that follows Link pages, classifies
// errors and parses tree pages. The fuzzed answer is returned for every tree page (so a Link
// to anywhere loops until the visited-set or page cap stops it); the revision answer is real.

#include "fuzz_support.hpp"

#include <hfmm/detail/blocking.hpp>
#include <hfmm/detail/fetch_driver.hpp>
#include <hfmm/fetch/hub_fetcher.hpp>

namespace {

struct replay_transport {
  const hfmm::detail::http_response* page;
  std::size_t requests = 0;
  std::string_view endpoint() const noexcept { return "https://huggingface.co"; }
  boost::asio::awaitable<hfmm::result<hfmm::detail::http_response>> async_get(std::string target) {
    ++requests;
    if (target.find("/revision/") != std::string::npos) {
      hfmm::detail::http_response r;
      r.status = 200;
      r.body = R"({"sha":"607a30d783dfa663caf39e06633721c8d4cfcd7e"})";
      co_return r;
    }
    co_return *page;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfmm;
  hub_options options;
  options.max_body_bytes = 1 << 20;
  detail::hub_response_parser parser;
  detail::limit_response(parser, options);
  parser.eager(true);
  error_code ec;
  auto bytes = fuzz::as_text(data, size);
  while (!bytes.empty() && !parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec) return 0;  // refused: a clear parse error, as the client reports it
    if (used == 0) break;
    bytes.remove_prefix(used);
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;  // nothing came back: a connection error, not an answer
    parser.put_eof(ec);                // the server closed the connection here
    if (ec || !parser.is_done()) return 0;
  }
  HFMM_FUZZ_CHECK(parser.get().body().size() <= options.max_body_bytes);
  auto response = detail::to_http_response(parser, false);

  // What hub_fetcher::get reads from any answer.
  (void)detail::parse_rate_limit(response.header("RateLimit"));
  (void)detail::parse_retry_after(response.header("Retry-After"));
  if (auto location = response.header("Location"); !location.empty())
    (void)detail::resolve_reference("https://huggingface.co/api/models/org/name/tree/main", location);

  replay_transport transport{&response};
  auto listing = detail::run_blocking(
      detail::fetch_listing(transport, "org/name", "main", {.max_entries = 100'000, .max_pages = 64}));
  HFMM_FUZZ_CHECK(transport.requests <= 1 + 64);
  if (listing) {
    HFMM_FUZZ_CHECK(response.status >= 200 && response.status < 300);
    const auto& s = listing->structure;  // (the revision answer lists no blobs: the tree was read)
    HFMM_FUZZ_CHECK(s.commit_sha == "607a30d783dfa663caf39e06633721c8d4cfcd7e");
    for (const auto& f : s.files) HFMM_FUZZ_CHECK(f.download_url().starts_with(s.files.url_prefix()));
  }
  return 0;
}
