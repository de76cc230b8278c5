#include "policy/base/duration.h"

#include <cstdint>
#include <string>
#include <utility>

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
  static constexpr std::pair<char, int64_t> kUnits[] = {
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  for (const auto& [suffix, seconds] : kUnits) {
    if (text.back() == suffix) {
      unit = seconds;
      digits.remove_suffix(1);
      break;
    }
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
