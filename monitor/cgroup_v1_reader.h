// Reads a container's cgroup on legacy (v1) hierarchies, one directory per
// controller: cpuacct.usage (ns), cpu.cfs_quota_us / cpu.cfs_period_us,
// cpuset.cpus, memory.usage_in_bytes, memory.limit_in_bytes, pids.current,
// pids.max. On a hybrid host the container's directory in the controller-less
// unified hierarchy, when known, adds PSI (cpu.pressure, memory.pressure).
#pragma once

#include <string>

#include "cgroup_location.h"
#include "cgroup_mounts.h"
#include "cgroup_reader.h"
#include "stat_file.h"

namespace crigate::monitor {

class CgroupV1Reader final : public CgroupReader {
 public:
  // Opens the files once. A controller that is not mounted, or not in
  // `location`, leaves its group of the sample not ok.
  CgroupV1Reader(const CgroupMounts& mounts, const CgroupLocation& location);

  // False when none of the usage files could be opened: no such cgroup.
  bool found() const;

  Sample Read() override;
  std::string Describe() const override { return description_; }

 private:
  std::string description_;
  StatFile cpuacct_usage_;
  StatFile cfs_quota_;
  StatFile cfs_period_;
  StatFile cpuset_;
  StatFile memory_usage_;
  StatFile memory_limit_;
  StatFile memory_stat_;
  StatFile pids_current_;
  StatFile pids_max_;
  StatFile cpu_pressure_;
  StatFile memory_pressure_;
};

}  // namespace crigate::monitor
