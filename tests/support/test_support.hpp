#pragma once
// Shared helpers for hfmm's tests: paths to the recorded data and scratch directories.
#include <hfmm/fetch/mock_fetcher.hpp>

#include "doctest_result.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace hfmm_test {

inline std::filesystem::path data_dir() { return HFMM_TEST_DATA; }
inline std::filesystem::path hub_dir() { return data_dir() / "hub"; }

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::filesystem::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A fresh directory, removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("hfmm-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(std::string_view name) const { return path / name; }
};

inline hfmm::mock_fetcher recorded_hub() {
  auto f = hfmm::mock_fetcher::from_recordings(hub_dir());
  REQUIRE(f);
  return *f;
}

}  // namespace hfmm_test
