#pragma once
// The process-wide pool of file paths behind every file_table.
//
// Catalogs repeat the same paths across thousands of repositories (config.json,
// model.safetensors, onnx/decoder_model.onnx, ...). Each distinct path is stored once and named
// by a 32-bit id: the byte offset of its copy. The pool only grows — a path's bytes never move
// and an id stays valid for the life of the process — so reading a path takes no lock; interning
// takes a mutex. What a catalog no longer uses is not given back: the pool is bounded by the
// distinct paths the process has seen, a small fraction of the catalog (bench/README.md).

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace hfmm::detail {

class path_pool {
public:
  /// The one pool of the process (never destroyed, so tables in static objects stay readable).
  static path_pool& instance() {
    static path_pool* pool = new path_pool;
    return *pool;
  }

  /// The id of `path`, adding it when new. Throws std::length_error past 4 GiB of distinct paths.
  std::uint32_t intern(std::string_view path) {
    auto hash = std::hash<std::string_view>{}(path);
    std::lock_guard lock(mutex_);
    if ((used_ + 1) * 2 > slots_.size()) grow();
    auto mask = slots_.size() - 1;
    for (auto i = hash & mask;; i = (i + 1) & mask) {
      auto& slot = slots_[i];
      if (slot.id == empty) {
        slot = {static_cast<std::uint32_t>(hash), store(path)};
        ++used_;
        return slot.id;
      }
      if (slot.hash == static_cast<std::uint32_t>(hash) && (*this)[slot.id] == path) return slot.id;
    }
  }

  /// The path of an id that intern() returned. No lock: stored bytes never move.
  std::string_view operator[](std::uint32_t id) const noexcept {
    const char* at = chunks_[id >> offset_bits].get() + (id & offset_mask);
    std::uint32_t length;
    std::memcpy(&length, at, sizeof length);
    return {at + sizeof length, length};
  }

private:
  // An id is (chunk << offset_bits) | offset: 4 096 chunks of 1 MiB. A path longer than a chunk
  // gets a chunk of its own.
  static constexpr unsigned offset_bits = 20;
  static constexpr std::size_t chunk_size = std::size_t{1} << offset_bits;
  static constexpr std::uint32_t offset_mask = chunk_size - 1;
  static constexpr std::size_t max_chunks = std::size_t{1} << (32 - offset_bits);
  static constexpr std::uint32_t empty = 0xFFFF'FFFFu;  // offsets are 4-aligned: never an id

  struct slot_type {
    std::uint32_t hash = 0;
    std::uint32_t id = empty;
  };

  path_pool() : slots_(1024) {}

  std::uint32_t store(std::string_view path) {
    auto need = sizeof(std::uint32_t) + path.size();
    if (need > chunk_size) return store_in(new_chunk(need), 0, path);
    if (current_ == max_chunks || fill_ + need > chunk_size) {
      current_ = new_chunk(chunk_size);
      fill_ = 0;
    }
    auto id = store_in(current_, fill_, path);
    fill_ = (fill_ + need + 3) & ~std::size_t{3};
    return id;
  }

  std::uint32_t store_in(std::size_t chunk, std::size_t offset, std::string_view path) {
    char* at = chunks_[chunk].get() + offset;
    auto length = static_cast<std::uint32_t>(path.size());
    std::memcpy(at, &length, sizeof length);
    if (!path.empty()) std::memcpy(at + sizeof length, path.data(), path.size());
    return static_cast<std::uint32_t>((chunk << offset_bits) | offset);
  }

  std::size_t new_chunk(std::size_t bytes) {
    if (next_chunk_ == max_chunks)
      throw std::length_error("hfmm: the path pool is full (4 GiB of distinct file paths in one process)");
    chunks_[next_chunk_] = std::make_unique_for_overwrite<char[]>(bytes);
    return next_chunk_++;
  }

  void grow() {
    std::vector<slot_type> bigger(slots_.size() * 2);
    auto mask = bigger.size() - 1;
    for (const auto& s : slots_) {
      if (s.id == empty) continue;
      auto i = s.hash & mask;
      while (bigger[i].id != empty) i = (i + 1) & mask;
      bigger[i] = s;
    }
    slots_ = std::move(bigger);
  }

  mutable std::mutex mutex_;
  std::array<std::unique_ptr<char[]>, max_chunks> chunks_;
  std::size_t next_chunk_ = 0;
  std::size_t current_ = max_chunks;  // the chunk small paths go to; none yet
  std::size_t fill_ = 0;
  std::vector<slot_type> slots_;
  std::size_t used_ = 0;
};

}  // namespace hfmm::detail
