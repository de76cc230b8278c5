#include "cgroup_v1_reader.h"

namespace crigate::monitor {
namespace {

// The directory of `controller` for `location`, "" when unknown.
std::string ControllerDirectory(const CgroupMounts& mounts, const CgroupLocation& location,
                                const char* controller) {
  const CgroupMount* mount = mounts.V1(controller);
  auto path = location.v1_paths.find(controller);
  if (mount == nullptr || path == location.v1_paths.end()) return {};
  return CgroupMounts::Directory(*mount, path->second);
}

// A file of `directory`; an unknown directory gives a never-open file.
StatFile OpenIn(const std::string& directory, const char* name, size_t capacity = 256) {
  if (directory.empty()) return StatFile();
  return StatFile(directory + "/" + name, capacity);
}

}  // namespace

CgroupV1Reader::CgroupV1Reader(const CgroupMounts& mounts, const CgroupLocation& location) {
  std::string cpuacct = ControllerDirectory(mounts, location, "cpuacct");
  std::string cpu = ControllerDirectory(mounts, location, "cpu");
  std::string cpuset = ControllerDirectory(mounts, location, "cpuset");
  std::string memory = ControllerDirectory(mounts, location, "memory");
  std::string pids = ControllerDirectory(mounts, location, "pids");
  std::string unified;
  if (mounts.V2() != nullptr && !location.v2_path.empty()) {
    unified = CgroupMounts::Directory(*mounts.V2(), location.v2_path);
  }
  cpuacct_usage_ = OpenIn(cpuacct, "cpuacct.usage");
  cfs_quota_ = OpenIn(cpu, "cpu.cfs_quota_us");
  cfs_period_ = OpenIn(cpu, "cpu.cfs_period_us");
  cpuset_ = OpenIn(cpuset, "cpuset.cpus", 1024);
  memory_usage_ = OpenIn(memory, "memory.usage_in_bytes");
  memory_limit_ = OpenIn(memory, "memory.limit_in_bytes");
  memory_stat_ = OpenIn(memory, "memory.stat", 8192);
  pids_current_ = OpenIn(pids, "pids.current");
  pids_max_ = OpenIn(pids, "pids.max");
  cpu_pressure_ = OpenIn(unified, "cpu.pressure");
  memory_pressure_ = OpenIn(unified, "memory.pressure");
  description_ = "cpuacct=" + cpuacct + " cpu=" + cpu + " cpuset=" + cpuset + " memory=" + memory +
                 " pids=" + pids + " unified=" + unified;
}

bool CgroupV1Reader::found() const {
  return cpuacct_usage_.is_open() || memory_usage_.is_open() || pids_current_.is_open();
}

Sample CgroupV1Reader::Read() {
  Sample sample;
  bool gone = false;
  std::optional<uint64_t> usage_ns = ReadParsed(cpuacct_usage_, ParseCounter, &gone);
  if (gone) return VanishedSample();
  if (usage_ns) {
    sample.cpu_ok = true;
    sample.cpu_usage_usec = *usage_ns / 1000;
    std::optional<int64_t> quota = ReadParsed(cfs_quota_, ParseSigned, &gone);
    std::optional<uint64_t> period = ReadParsed(cfs_period_, ParseCounter, &gone);
    if (quota && period) sample.cpu_quota_cores = V1QuotaCores(*quota, *period).value_or(0);
    sample.cpuset_cpus = ReadParsed(cpuset_, ParseCpuListCount, &gone).value_or(0);
  }

  std::optional<uint64_t> memory = ReadParsed(memory_usage_, ParseCounter, &gone);
  std::optional<uint64_t> memory_limit = ReadParsed(memory_limit_, ParseV1MemoryLimit, &gone);
  std::optional<uint64_t> inactive = ReadParsed(memory_stat_, ParseV1InactiveFile, &gone);

  std::optional<uint64_t> pids = ReadParsed(pids_current_, ParseCounter, &gone);
  // The root of the pids hierarchy has no pids.max: unlimited.
  std::optional<uint64_t> pids_max = ReadParsed(pids_max_, ParseLimit, &gone);
  FillMemoryAndPids(memory, memory_limit, inactive, pids, pids_max, &sample);

  sample.cpu_pressure = ReadParsed(cpu_pressure_, ParsePressure, &gone);
  sample.memory_pressure = ReadParsed(memory_pressure_, ParsePressure, &gone);
  if (gone) return VanishedSample();
  return sample;
}

}  // namespace crigate::monitor
