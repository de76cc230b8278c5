// Reads a container's cgroup on the unified (v2) hierarchy: cpu.stat,
// cpu.max, cpuset.cpus.effective, memory.current, memory.max, pids.current,
// pids.max, cpu.pressure and memory.pressure, all in one directory.
#pragma once

#include <string>

#include "cgroup_reader.h"
#include "stat_file.h"

namespace crigate::monitor {

class CgroupV2Reader final : public CgroupReader {
 public:
  // Opens the files of `directory` (e.g. /sys/fs/cgroup/k8s.io/<id>) once;
  // a file missing at open stays missing (no retry per sample).
  explicit CgroupV2Reader(std::string directory);

  // False when none of the usage files could be opened: no such cgroup.
  bool found() const;

  Sample Read() override;
  std::string Describe() const override { return directory_; }

 private:
  const std::string directory_;
  StatFile cpu_stat_;
  StatFile cpu_max_;
  StatFile cpuset_;
  StatFile memory_current_;
  StatFile memory_max_;
  StatFile memory_stat_;
  StatFile pids_current_;
  StatFile pids_max_;
  StatFile cpu_pressure_;
  StatFile memory_pressure_;
};

}  // namespace crigate::monitor
