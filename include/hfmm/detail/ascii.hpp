#pragma once
// ASCII case folding: the one definition every case-insensitive query uses (paths, names,
// tags compare ASCII case-insensitively, as the Python Model Manager's str.lower() does for
// the ASCII names the Hub allows).

#include <string>
#include <string_view>

namespace hfmm::detail {

inline char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
/// [A-Za-z0-9], whatever the locale (std::isalnum follows it).
inline bool ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

inline void lower_ascii_into(std::string& out, std::string_view s) {
  out.assign(s);
  for (auto& c : out) c = ascii_lower(c);
}

inline std::string to_lower_ascii(std::string_view s) {
  std::string out;
  lower_ascii_into(out, s);
  return out;
}

/// Whether `a` and `b` are equal ignoring ASCII case (HTTP header names).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// Whether `haystack` contains `needle` ignoring ASCII case; `needle` must be lower case.
inline bool icontains(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && ascii_lower(haystack[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

}  // namespace hfmm::detail
