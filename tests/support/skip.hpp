#pragma once
// Tests that cannot run here say so instead of passing with nothing checked.
//
// skip(reason) prints "HFMM-SKIP: <test>: <reason>" and counts the skip: a run that skipped a
// test and failed none exits 77 (tests/main.cpp), which CTest (SKIP_RETURN_CODE, and
// SKIP_REGULAR_EXPRESSION for the tests it discovers one by one) and meson show as skipped.
// When the runner promised everything (HFMM_REQUIRE_ALL_TESTS=1, as scripts/test sets, or CI)
// a skip is a failure. skip_opt_in(reason) is for tests nobody is expected to run (they need
// the network): printed the same way, never a failure, and not counted.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace hfmm_test {

inline bool flag_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string_view(v) != "false" && std::string_view(v) != "0";
}

/// Whether every test must run: a skip fails instead.
inline bool all_tests_required() { return flag_set("HFMM_REQUIRE_ALL_TESTS") || flag_set("CI"); }

inline std::atomic<int>& skipped_tests() {
  static std::atomic<int> count{0};
  return count;
}

inline void print_skip(std::string_view reason) {
  const auto* options = doctest::getContextOptions();
  std::printf("HFMM-SKIP: %s: %.*s\n", options && options->currentTest ? options->currentTest->m_name : "?",
              static_cast<int>(reason.size()), reason.data());
  std::fflush(stdout);
}

/// This test cannot run here (a server or library it needs is absent): say why.
inline void skip(std::string_view reason) {
  if (all_tests_required()) FAIL_CHECK("required test cannot run: " << std::string(reason));
  print_skip(reason);
  ++skipped_tests();
}

/// An opt-in test, not asked for: say so, pass nothing off as checked.
inline void skip_opt_in(std::string_view reason) { print_skip(reason); }

}  // namespace hfmm_test
