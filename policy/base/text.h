// Text helpers every part needs.
#pragma once

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

}  // namespace crigate::base
