// Text helpers every part needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace crigate::base {

// The items of a range of strings with sep between them ("a, b, c"); "" for none.
template <typename Range>
std::string Join(const Range& items, std::string_view sep = ", ") {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out.append(sep);
    out.append(item);
    first = false;
  }
  return out;
}

// raw as a caller's bytes can be shown in a log line or a message: printable
// ASCII as it is, every other byte and '\\' as \xNN, at most max_bytes of
// it, then "...".
inline std::string Printable(std::string_view raw, size_t max_bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : raw.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  if (raw.size() > max_bytes) out += "...";
  return out;
}

// A whole decimal number: digits only, at least one, within uint64;
// nullopt otherwise (a sign, a space, an overflow).
inline std::optional<uint64_t> ParseDecimal(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// text ends with suffix.
inline bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace crigate::base
