// Parsers for the text of cgroup interface files (v1 and v2). Pure functions
// on what the kernel returned, so they are tested on strings and fixture
// trees. Contract shared by all: a trailing newline is accepted, anything else
// unexpected (empty, garbage, truncated, negative) yields nullopt and the
// caller marks that field of its sample not ok: a bad file never crashes and
// never reads as zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace crigate::monitor {

// A limit of 0 means "no limit" throughout the monitor ("max" in v2, a huge
// value in v1). A real limit of 0 bytes or 0 pids cannot hold a running
// container, so nothing is lost by the convention.
inline constexpr uint64_t kUnlimited = 0;

// A single decimal counter: memory.current, pids.current, cpuacct.usage,
// memory.usage_in_bytes.
std::optional<uint64_t> ParseCounter(std::string_view text);

// A single signed decimal value: v1 cpu.cfs_quota_us (-1 = no quota).
std::optional<int64_t> ParseSigned(std::string_view text);

// "max" or a counter: memory.max, pids.max (both versions). "max" -> kUnlimited.
std::optional<uint64_t> ParseLimit(std::string_view text);

// v1 memory.limit_in_bytes: the kernel shows "no limit" as PAGE_COUNTER_MAX
// pages (9223372036854771712 with 4 KiB pages); anything at or above 2^62 is
// taken as kUnlimited.
std::optional<uint64_t> ParseV1MemoryLimit(std::string_view text);

// A "key value" per line file (cpu.stat, memory.stat): the value of key.
std::optional<uint64_t> ParseStatField(std::string_view text, std::string_view key);

// v2 cpu.stat: the value of its "usage_usec" line.
std::optional<uint64_t> ParseCpuStatUsageUsec(std::string_view text);

// memory.stat: the page cache the kernel can drop, which the working set
// leaves out. v2 "inactive_file"; v1 "total_inactive_file" (hierarchical).
std::optional<uint64_t> ParseV2InactiveFile(std::string_view text);
std::optional<uint64_t> ParseV1InactiveFile(std::string_view text);

// v2 cpu.max, "$QUOTA $PERIOD" or "max $PERIOD": CPUs' worth of quota,
// 0 when there is none.
std::optional<double> ParseV2CpuMaxCores(std::string_view text);

// v1 cpu.cfs_quota_us and cpu.cfs_period_us as CPUs' worth of quota, 0 when
// the quota is -1 (none). nullopt when the pair makes no sense.
std::optional<double> V1QuotaCores(int64_t quota_us, uint64_t period_us);

// A cpu list, "0-3,6\n" (cpuset.cpus, cpuset.cpus.effective): how many CPUs
// it names. An empty list gives 0.
std::optional<int> ParseCpuListCount(std::string_view text);

// Pressure stall information, cpu.pressure / memory.pressure:
//   some avg10=0.12 avg60=0.05 avg300=0.01 total=12345
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
// avg10 values are percentages of wall time. The "full" line is absent from
// cpu.pressure on kernels before 5.13.
struct Pressure {
  double some_avg10 = 0;
  double full_avg10 = 0;
  bool has_full = false;
};
std::optional<Pressure> ParsePressure(std::string_view text);

}  // namespace crigate::monitor
