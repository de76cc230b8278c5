// The face of cgroup sampling: what one sample of a container's cgroup holds
// (Sample), what reads it (CgroupReader: v2 and v1 implementations), and what
// finds and opens a container's cgroup (CgroupOpener).
//
// Why files are read directly and not through libcgroup: libcgroup 2.0.2's
// value API (cgroup_read_value_begin, cgroup_get_cgroup) opens, reads and
// closes the file on every call, allocates, and needs its global mount table;
// it cannot keep a descriptor. The hot path here keeps one descriptor per
// file per container and preads it (StatFile), which is one syscall per file
// and no path walk. libcgroup is used where it serves, at start-up: the v1
// controller mount table (see cgroup_mounts.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cgroup_files.h"
#include "policy/base/status.h"

namespace crigate::monitor {

// One reading of a container's cgroup. Each group of fields is valid only when
// its ok flag is set: a missing or malformed file leaves its group not ok.
struct Sample {
  // The cgroup vanished (the container exited, perhaps mid-read). Nothing
  // else in the sample is meaningful; the container should be forgotten.
  bool gone = false;

  bool cpu_ok = false;
  uint64_t cpu_usage_usec = 0;  // cumulative CPU time of all tasks
  double cpu_quota_cores = 0;   // CFS quota in CPUs' worth; 0 = no quota
  int cpuset_cpus = 0;          // CPUs in its cpuset; 0 = unknown

  bool memory_ok = false;
  uint64_t memory_current = 0;  // bytes (v1: usage_in_bytes, page cache included)
  // What kubelet calls the working set: usage less the inactive page cache
  // the kernel can drop (memory.stat); usage itself when that is unreadable.
  uint64_t memory_working_set = 0;
  uint64_t memory_limit = kUnlimited;  // bytes

  bool pids_ok = false;
  uint64_t pids_current = 0;
  uint64_t pids_max = kUnlimited;

  // Pressure stall information, where the cgroup2 hierarchy offers it (v2,
  // or the unified hierarchy of a hybrid host).
  std::optional<Pressure> cpu_pressure;
  std::optional<Pressure> memory_pressure;
};

inline Sample VanishedSample() {
  Sample sample;
  sample.gone = true;
  return sample;
}

// The memory and pids parts of a sample, the same for v1 and v2 once their
// files are read: a usage without a readable limit counts as unlimited, and
// a missing usage leaves that resource not ok.
inline void FillMemoryAndPids(std::optional<uint64_t> memory, std::optional<uint64_t> memory_limit,
                              std::optional<uint64_t> inactive_file, std::optional<uint64_t> pids,
                              std::optional<uint64_t> pids_max, Sample* sample) {
  if (memory) {
    sample->memory_ok = true;
    sample->memory_current = *memory;
    const uint64_t inactive = inactive_file.value_or(0);
    sample->memory_working_set = inactive < *memory ? *memory - inactive : 0;
    sample->memory_limit = memory_limit.value_or(kUnlimited);
  }
  if (pids) {
    sample->pids_ok = true;
    sample->pids_current = *pids;
    sample->pids_max = pids_max.value_or(kUnlimited);
  }
}

// Reads one container's cgroup. Not thread-safe: one thread at a time.
class CgroupReader {
 public:
  virtual ~CgroupReader() = default;
  virtual Sample Read() = 0;
  // The directories read, for logs and the probe.
  virtual std::string Describe() const = 0;
};

// What identifies a container's cgroup before it is opened.
struct CgroupRef {
  int pid = 0;               // the container's init pid; 0 when unknown
  std::string cgroups_path;  // OCI linux.cgroupsPath; may be empty
};

// Finds a container's cgroup and opens a reader on it. Thread-safe.
class CgroupOpener {
 public:
  virtual ~CgroupOpener() = default;
  // NOT_FOUND when no cgroup can be found or opened for ref (the container
  // is gone, or its cgroup is outside the mounted hierarchy); UNAVAILABLE
  // when the host has no cgroups at all. The message says which.
  virtual base::Result<std::unique_ptr<CgroupReader>> Open(const CgroupRef& ref) = 0;
};

}  // namespace crigate::monitor
