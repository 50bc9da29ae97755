#pragma once
// Runs one awaitable to completion on a private io_context: the blocking twin of async_x.
// Never call it from a thread that runs an io_context.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <type_traits>

namespace hfmm::detail {

// A template for void too: a plain inline function would instantiate co_spawn in every
// translation unit that includes this header, used or not.
template <class T>
T run_blocking(boost::asio::awaitable<T> op) {
  boost::asio::io_context ctx;
  std::exception_ptr failure;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(ctx, std::move(op), [&](std::exception_ptr e) { failure = e; });
    ctx.run();
    if (failure) std::rethrow_exception(failure);
  } else {
    std::optional<T> out;
    boost::asio::co_spawn(ctx, std::move(op), [&](std::exception_ptr e, T value) {
      failure = e;
      if (!e) out.emplace(std::move(value));
    });
    ctx.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
  }
}

/// Runs `workers` coroutines made by `make()` on a private io_context until all are done; the
/// first exception one of them throws is rethrown after. The blocking shape of a batch: workers
/// taking items from a shared cursor (one thread, so no locks).
template <class Make>
void run_workers(std::size_t workers, Make make) {
  boost::asio::io_context ctx;
  std::exception_ptr failure;
  for (std::size_t w = 0; w < workers; ++w)
    boost::asio::co_spawn(ctx, make(), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
    });
  ctx.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace hfmm::detail
