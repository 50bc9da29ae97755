#pragma once
// ISO-8601 time as the JSON store writes it: naive UTC with six fraction digits
// ("2026-11-27T10:00:00.000000", which Python's fromisoformat reads). Reading accepts no
// fraction or 1-9 fraction digits, a space instead of 'T', and 'Z' or a +hh:mm offset;
// a naive time is UTC.

#include <hfmm/detail/config.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hfmm {
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;
inline timestamp now() { return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()); }
}  // namespace hfmm

namespace hfmm::detail {

std::string format_timestamp(timestamp t);

std::optional<timestamp> parse_timestamp(std::string_view text);

}  // namespace hfmm::detail

#if HFMM_DEFINE_BODIES
#include <hfmm/impl/time.ipp>
#endif
