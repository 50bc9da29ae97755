#pragma once
// Shared by the libFuzzer targets: input as text, and a check that aborts (a finding) instead
// of the assert that -DNDEBUG would remove.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace hfmm::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

#define HFMM_FUZZ_CHECK(cond)                                                         \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

}  // namespace hfmm::fuzz
