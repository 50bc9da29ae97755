#pragma once
// Two stages on two threads: a producer (parsing a catalog, say) runs on its own thread while
// the caller consumes what it made (writing to a store whose connection lives on the caller's
// thread). A bulk import then costs the slower of the two, not their sum.

#include <hfmm/error.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace hfmm::detail {

/// Runs `produce(put)` on a new thread; each `put(T&&)` hands an item to `consume(T&&)`, which
/// runs on the calling thread, in order. At most `depth` items wait between the two (bounded
/// memory). The first failure of `consume` stops the producer (its next put returns that
/// error) and is returned; else `produce`'s result. An exception from either is rethrown here
/// after the producer's thread has ended.
template <class T, class Produce, class Consume>
result<void> run_pipelined(Produce produce, Consume consume, std::size_t depth = 2) {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<T> waiting;
  bool produced_all = false;
  result<void> consumed;  // the consumer's first failure; the producer stops at it
  result<void> produced;
  std::exception_ptr producer_threw;

  std::thread producer([&] {
    auto put = [&](T&& item) -> result<void> {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return waiting.size() < depth || !consumed; });
      if (!consumed) return consumed;
      waiting.push_back(std::move(item));
      changed.notify_all();
      return {};
    };
    try {
      produced = produce(put);
    } catch (...) {
      producer_threw = std::current_exception();
    }
    std::lock_guard lock(mutex);
    produced_all = true;
    changed.notify_all();
  });

  auto stop_producer = [&](result<void> why) {
    std::lock_guard lock(mutex);
    consumed = why;
    changed.notify_all();
  };
  try {
    for (;;) {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return !waiting.empty() || produced_all; });
      if (waiting.empty()) break;
      T item = std::move(waiting.front());
      waiting.pop_front();
      changed.notify_all();
      lock.unlock();
      if (auto ok = consume(std::move(item)); !ok) {
        stop_producer(ok);
        break;
      }
    }
  } catch (...) {
    stop_producer(errc::storage_io);
    producer.join();
    throw;
  }
  producer.join();
  if (producer_threw) std::rethrow_exception(producer_threw);
  if (!consumed) return consumed;
  return produced;
}

}  // namespace hfmm::detail
