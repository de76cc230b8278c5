#include "policy/base/duration.h"

#include <cstdint>
#include <string>

namespace crigate::base {

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument(
        "'" + std::string(text.substr(0, 64)) +
        "' is not a duration such as \"300s\", \"5m\", \"1h\" or \"2d\"");
  };
  constexpr int64_t kMax = int64_t{10} * 365 * 24 * 3600;
  if (text.empty()) return invalid();
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      digits.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      digits.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      digits.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      digits.remove_suffix(1);
      break;
    default:
      break;
  }
  if (digits.empty() || digits.size() > 12) return invalid();
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return invalid();
    n = n * 10 + (c - '0');
  }
  if (n > kMax / unit) return invalid();
  return std::chrono::seconds(n * unit);
}

}  // namespace crigate::base
