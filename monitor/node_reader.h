// Node-wide usage, from /proc/stat and /proc/meminfo, for the node ratios and
// for the denominators of unlimited containers.
#pragma once

#include <cstdint>
#include <string>

#include "proc_files.h"
#include "stat_file.h"

namespace crigate::monitor {

// What the node has; read once at construction.
struct NodeCapacity {
  int cpus = 1;               // online CPUs
  uint64_t memory_bytes = 0;  // MemTotal; 0 when unknown
  uint64_t task_limit = 0;    // min(kernel.pid_max, kernel.threads-max); 0 when unknown
};

struct NodeSample {
  bool cpu_ok = false;
  CpuTimes cpu;
  bool memory_ok = false;
  MemInfo memory;
};

class NodeReader {
 public:
  virtual ~NodeReader() = default;
  virtual NodeCapacity capacity() const = 0;
  // Not thread-safe: one thread at a time.
  virtual NodeSample Read() = 0;
};

class ProcNodeReader final : public NodeReader {
 public:
  // `proc_root` is "/proc" on a real host; tests point it at a fixture.
  explicit ProcNodeReader(const std::string& proc_root = "/proc");

  NodeCapacity capacity() const override { return capacity_; }
  NodeSample Read() override;

 private:
  NodeCapacity capacity_;
  StatFile stat_;
  StatFile meminfo_;
};

}  // namespace crigate::monitor
