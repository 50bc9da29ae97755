#pragma once
// Lower-case hex <-> binary digests, and percent-encoding of URL path segments.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfmm::detail {

inline constexpr char hex_digits[] = "0123456789abcdef";

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  std::string out(2 * N, '\0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = hex_digits[bytes[i] >> 4];
    out[2 * i + 1] = hex_digits[bytes[i] & 0xF];
  }
  return out;
}

inline std::string to_hex(const unsigned char* data, std::size_t n) {
  std::string out(2 * n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = hex_digits[data[i] >> 4];
    out[2 * i + 1] = hex_digits[data[i] & 0xF];
  }
  return out;
}

inline constexpr auto lower_hex_table = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  return t;
}();

constexpr int lower_hex_value(char c) noexcept { return lower_hex_table[static_cast<unsigned char>(c)]; }

/// Parses exactly 2*N lower-case hex digits; anything else (upper case included, so that
/// the text round-trips exactly) gives nullopt.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> parse_lower_hex(std::string_view text) noexcept {
  if (text.size() != 2 * N) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  int bad = 0;  // branch-free: any invalid digit sets the sign bit
  for (std::size_t i = 0; i < N; ++i) {
    int hi = lower_hex_value(text[2 * i]), lo = lower_hex_value(text[2 * i + 1]);
    bad |= hi | lo;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  if (bad < 0) return std::nullopt;
  return out;
}

/// The first 32 bits of a digest written in lower-case hex (its first 8 digits), when it is one.
inline std::optional<std::uint32_t> hex_prefix32(std::string_view hex) noexcept {
  if (hex.size() < 8) return std::nullopt;
  std::uint32_t k = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    int v = lower_hex_value(hex[i]);
    if (v < 0) return std::nullopt;
    k = k << 4 | static_cast<std::uint32_t>(v);
  }
  return k;
}

/// The same for a binary digest: its first four bytes, big-endian (as its hex reads).
inline std::uint32_t bytes_prefix32(const std::uint8_t* digest) noexcept {
  return std::uint32_t{digest[0]} << 24 | std::uint32_t{digest[1]} << 16 | std::uint32_t{digest[2]} << 8 | digest[3];
}

inline bool is_lower_hex(std::string_view text, std::size_t digits) noexcept {
  if (text.size() != digits) return false;
  for (char c : text)
    if (lower_hex_value(c) < 0) return false;
  return true;
}

constexpr bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

/// Percent-encodes one URL path segment: everything but RFC 3986 unreserved characters,
/// '/' included (a revision such as refs/pr/1 is one segment).
inline void append_encoded_segment(std::string& out, std::string_view segment) {
  for (unsigned char c : segment) {
    if (is_unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[c >> 4]);
      out.push_back("0123456789ABCDEF"[c & 0xF]);
    }
  }
}

/// Percent-encodes a repository file path segment by segment, keeping the '/' separators.
inline void append_encoded_path(std::string& out, std::string_view path) {
  for (;;) {
    auto slash = path.find('/');
    append_encoded_segment(out, path.substr(0, slash));
    if (slash == std::string_view::npos) return;
    out.push_back('/');
    path.remove_prefix(slash + 1);
  }
}

/// Decodes %XX escapes (either case); '+' is kept as is. Invalid escapes are kept verbatim.
inline std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = value(in[i + 1]), lo = value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

}  // namespace hfmm::detail
