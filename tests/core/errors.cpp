#include <hfmm/error.hpp>

#include "../support/doctest_result.hpp"

#include <set>

TEST_CASE("every errc has its own category, a distinct message and compares as an error code") {
  std::set<std::string> messages, names;
  for (int v = 1; v <= static_cast<int>(hfmm::errc::storage_read_only); ++v) {
    auto e = static_cast<hfmm::errc>(v);
    hfmm::error_code ec = e;
    CHECK(ec.value() == v);
    CHECK(ec == e);
    CHECK(std::string(ec.category().name()) == "hfmm");
    CHECK_FALSE(ec.message().empty());
    CHECK(ec.message() != "unknown hfmm error");
    CHECK(messages.insert(ec.message()).second);
    CHECK(names.insert(std::string(hfmm::to_string(e))).second);  // a distinct name for scripts
    CHECK(hfmm::to_string(e) != "unknown");
  }
  CHECK(hfmm::to_string(hfmm::errc::model_not_found) == "model_not_found");
  CHECK(hfmm::error_code(hfmm::errc::unauthorized).message() ==
        "not found, private or gated — set HF_TOKEN to access it");
  CHECK(hfmm::error_code(hfmm::errc::token_rejected).message() == "the token was rejected — check HF_TOKEN");
  CHECK(hfmm::error_code(static_cast<hfmm::errc>(999)).message() == "unknown hfmm error");
}

TEST_CASE("result<T> carries an errc, and value() throws it") {
  hfmm::result<int> r = hfmm::errc::model_not_found;
  REQUIRE_FALSE(r);
  CHECK(r.error() == hfmm::errc::model_not_found);
  CHECK_THROWS_AS(r.value(), boost::system::system_error);
}
