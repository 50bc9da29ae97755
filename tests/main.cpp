// The one doctest main. A run that skipped a test (support/skip.hpp) and failed none exits 77,
// the code CTest (SKIP_RETURN_CODE) and meson report as a skip.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int result = context.run();
  if (context.shouldExit() || result != 0) return result;
  if (int skipped = hfmm_test::skipped_tests().load(); skipped > 0) {
    std::printf("hfmm tests: %d skipped (HFMM-SKIP lines above say why); exit 77 marks the run skipped\n", skipped);
    return 77;
  }
  return 0;
}
