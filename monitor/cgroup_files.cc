#include "cgroup_files.h"

#include <charconv>

#include "text_fields.h"

namespace crigate::monitor {

std::optional<uint64_t> ParseCounter(std::string_view text) {
  return ParseWholeUint(TrimNewline(text));
}

std::optional<int64_t> ParseSigned(std::string_view text) {
  std::string_view body = TrimNewline(text);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec != std::errc() || end != body.data() + body.size() || body.empty()) return std::nullopt;
  return value;
}

std::optional<uint64_t> ParseLimit(std::string_view text) {
  std::string_view body = TrimNewline(text);
  if (body == "max") return kUnlimited;
  return ParseWholeUint(body);
}

std::optional<uint64_t> ParseV1MemoryLimit(std::string_view text) {
  std::optional<uint64_t> value = ParseCounter(text);
  if (value && *value >= (uint64_t{1} << 62)) return kUnlimited;
  return value;
}

std::optional<uint64_t> ParseStatField(std::string_view text, std::string_view wanted) {
  for (std::string_view line : SplitLines(text)) {
    std::string_view key = NextField(line);
    if (key != wanted) continue;
    std::optional<uint64_t> value = ParseWholeUint(NextField(line));
    if (!value || !NextField(line).empty()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseCpuStatUsageUsec(std::string_view text) {
  return ParseStatField(text, "usage_usec");
}

std::optional<uint64_t> ParseV2InactiveFile(std::string_view text) {
  return ParseStatField(text, "inactive_file");
}

std::optional<uint64_t> ParseV1InactiveFile(std::string_view text) {
  return ParseStatField(text, "total_inactive_file");
}

std::optional<double> ParseV2CpuMaxCores(std::string_view text) {
  std::string_view rest = TrimNewline(text);
  std::string_view quota = NextField(rest);
  std::optional<uint64_t> period = ParseWholeUint(NextField(rest));
  if (!period || *period == 0 || !NextField(rest).empty()) return std::nullopt;
  if (quota == "max") return 0.0;
  std::optional<uint64_t> quota_us = ParseWholeUint(quota);
  if (!quota_us) return std::nullopt;
  return static_cast<double>(*quota_us) / static_cast<double>(*period);
}

std::optional<double> V1QuotaCores(int64_t quota_us, uint64_t period_us) {
  if (quota_us == -1) return 0.0;
  if (quota_us <= 0 || period_us == 0) return std::nullopt;
  return static_cast<double>(quota_us) / static_cast<double>(period_us);
}

std::optional<int> ParseCpuListCount(std::string_view text) {
  std::string_view body = TrimNewline(text);
  int count = 0;
  while (!body.empty()) {
    size_t comma = body.find(',');
    std::string_view item = body.substr(0, comma);
    body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
    size_t dash = item.find('-');
    std::optional<uint64_t> first = ParseWholeUint(item.substr(0, dash));
    std::optional<uint64_t> last =
        dash == std::string_view::npos ? first : ParseWholeUint(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last - *first > 65535) return std::nullopt;
    count += static_cast<int>(*last - *first + 1);
  }
  return count;
}

std::optional<Pressure> ParsePressure(std::string_view text) {
  Pressure pressure;
  bool has_some = false;
  for (std::string_view line : SplitLines(text)) {
    std::string_view kind = NextField(line);
    std::string_view avg10 = NextField(line);
    if (avg10.substr(0, 6) != "avg10=") return std::nullopt;
    std::optional<double> value = ParseWholeDouble(avg10.substr(6));
    if (!value) return std::nullopt;
    if (kind == "some") {
      pressure.some_avg10 = *value;
      has_some = true;
    } else if (kind == "full") {
      pressure.full_avg10 = *value;
      pressure.has_full = true;
    } else {
      return std::nullopt;
    }
  }
  if (!has_some) return std::nullopt;
  return pressure;
}

}  // namespace crigate::monitor
