#pragma once
// Memory for what a loader needs only while it runs (the record keys it checks for duplicates,
// say). Taken from the heap, such allocations land between the catalog's own and leave holes
// when freed; taken from mmap'ed blocks, they go back to the system whole.

#include <sys/mman.h>

#include <cstddef>
#include <memory_resource>
#include <new>

namespace hfmm::detail {

/// An upstream that maps every block (monotonic_buffer_resource asks for few, growing ones).
class mapped_memory_resource final : public std::pmr::memory_resource {
  void* do_allocate(std::size_t bytes, std::size_t) override {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t) override { ::munmap(p, bytes); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }
};

/// A monotonic arena over mapped blocks of 64 KiB and more, freed whole on destruction.
class scratch_memory : public std::pmr::memory_resource {
public:
  scratch_memory() = default;
  scratch_memory(const scratch_memory&) = delete;
  scratch_memory& operator=(const scratch_memory&) = delete;

private:
  void* do_allocate(std::size_t bytes, std::size_t align) override { return arena_.allocate(bytes, align); }
  void do_deallocate(void*, std::size_t, std::size_t) override {}
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

  mapped_memory_resource blocks_;
  std::pmr::monotonic_buffer_resource arena_{64 * 1024, &blocks_};
};

}  // namespace hfmm::detail
