// Text helpers every part needs.
#pragma once

#include <cstddef>
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

}  // namespace crigate::base
