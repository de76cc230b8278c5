#include "cgroup_v2_reader.h"

#include <utility>

namespace crigate::monitor {

CgroupV2Reader::CgroupV2Reader(std::string directory)
    : directory_(std::move(directory)),
      cpu_stat_(directory_ + "/cpu.stat", 2048),
      cpu_max_(directory_ + "/cpu.max"),
      cpuset_(directory_ + "/cpuset.cpus.effective", 1024),
      memory_current_(directory_ + "/memory.current"),
      memory_max_(directory_ + "/memory.max"),
      memory_stat_(directory_ + "/memory.stat", 8192),
      pids_current_(directory_ + "/pids.current"),
      pids_max_(directory_ + "/pids.max"),
      cpu_pressure_(directory_ + "/cpu.pressure"),
      memory_pressure_(directory_ + "/memory.pressure") {}

bool CgroupV2Reader::found() const {
  return cpu_stat_.is_open() || memory_current_.is_open() || pids_current_.is_open();
}

Sample CgroupV2Reader::Read() {
  Sample sample;
  bool gone = false;
  std::optional<uint64_t> usage = ReadParsed(cpu_stat_, ParseCpuStatUsageUsec, &gone);
  if (gone) return VanishedSample();
  if (usage) {
    sample.cpu_ok = true;
    sample.cpu_usage_usec = *usage;
    // No cpu.max (the root, or the cpu controller not enabled): no quota.
    sample.cpu_quota_cores = ReadParsed(cpu_max_, ParseV2CpuMaxCores, &gone).value_or(0);
    sample.cpuset_cpus = ReadParsed(cpuset_, ParseCpuListCount, &gone).value_or(0);
  }

  std::optional<uint64_t> memory = ReadParsed(memory_current_, ParseCounter, &gone);
  std::optional<uint64_t> memory_max = ReadParsed(memory_max_, ParseLimit, &gone);
  std::optional<uint64_t> inactive = ReadParsed(memory_stat_, ParseV2InactiveFile, &gone);

  std::optional<uint64_t> pids = ReadParsed(pids_current_, ParseCounter, &gone);
  std::optional<uint64_t> pids_max = ReadParsed(pids_max_, ParseLimit, &gone);
  FillMemoryAndPids(memory, memory_max, inactive, pids, pids_max, &sample);

  sample.cpu_pressure = ReadParsed(cpu_pressure_, ParsePressure, &gone);
  sample.memory_pressure = ReadParsed(memory_pressure_, ParsePressure, &gone);
  if (gone) return VanishedSample();
  return sample;
}

}  // namespace crigate::monitor
