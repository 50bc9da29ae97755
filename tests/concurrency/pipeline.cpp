// detail::run_pipelined: the two stages of a bulk import on two threads.
#include <hfmm/detail/pipeline.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

using hfmm::errc;
using hfmm::result;
using hfmm::detail::run_pipelined;

TEST_CASE("run_pipelined hands every item over in order, with at most `depth` waiting") {
  std::vector<int> seen;
  std::size_t most_waiting = 0;
  std::atomic<int> made = 0;
  auto ok = run_pipelined<int>(
      [&](auto put) -> result<void> {
        for (int i = 0; i < 1000; ++i) {
          ++made;
          if (auto r = put(int(i)); !r) return r;
        }
        return {};
      },
      [&](int&& i) -> result<void> {
        most_waiting = std::max<std::size_t>(most_waiting, static_cast<std::size_t>(made - static_cast<int>(seen.size())));
        seen.push_back(i);
        return {};
      },
      2);
  REQUIRE(ok);
  REQUIRE(seen.size() == 1000);
  for (int i = 0; i < 1000; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i);
  // made counts the item being put too, and the one the consumer holds: depth + 2 at most
  CHECK(most_waiting <= 4);
}

TEST_CASE("run_pipelined: the consumer's failure stops the producer and is returned") {
  std::atomic<int> made = 0;
  int consumed = 0;
  auto ok = run_pipelined<int>(
      [&](auto put) -> result<void> {
        for (int i = 0; i < 100000; ++i) {
          ++made;
          if (auto r = put(int(i)); !r) return r;
        }
        return {};
      },
      [&](int&&) -> result<void> { return ++consumed == 10 ? result<void>(errc::storage_io) : result<void>{}; });
  CHECK(ok.error() == errc::storage_io);
  CHECK(consumed == 10);
  CHECK(made <= 10 + 3);  // stopped at once, not after parsing everything
}

TEST_CASE("run_pipelined: the producer's failure is returned after what it made is consumed") {
  int consumed = 0;
  auto ok = run_pipelined<int>(
      [&](auto put) -> result<void> {
        for (int i = 0; i < 5; ++i)
          if (auto r = put(int(i)); !r) return r;
        return errc::storage_corrupt;
      },
      [&](int&&) -> result<void> { return ++consumed, result<void>{}; });
  CHECK(ok.error() == errc::storage_corrupt);
  CHECK(consumed == 5);
}

TEST_CASE("run_pipelined: an exception on either side is rethrown on the caller's thread, the producer joined") {
  CHECK_THROWS_AS(run_pipelined<int>([&](auto) -> result<void> { throw std::runtime_error("parse"); },
                                     [&](int&&) -> result<void> { return {}; }),
                  std::runtime_error);
  std::atomic<int> made = 0;
  CHECK_THROWS_AS(run_pipelined<int>(
                      [&](auto put) -> result<void> {
                        for (int i = 0; i < 100000; ++i) {
                          ++made;
                          if (auto r = put(int(i)); !r) return r;
                        }
                        return {};
                      },
                      [&](int&&) -> result<void> { throw std::runtime_error("write"); }),
                  std::runtime_error);
  CHECK(made < 100000);
}
