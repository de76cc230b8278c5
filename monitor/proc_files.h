// Parsers for the /proc files the node-wide ratios come from. Pure functions
// on the text, nullopt on anything malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace crigate::monitor {

// The aggregate "cpu" line of /proc/stat, in clock ticks since boot.
// busy excludes idle and iowait; guest time is already inside user/nice and
// is not counted twice.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
std::optional<CpuTimes> ParseProcStatCpu(std::string_view text);

// MemTotal and MemAvailable of /proc/meminfo, in bytes.
struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};
std::optional<MemInfo> ParseMeminfo(std::string_view text);

}  // namespace crigate::monitor
