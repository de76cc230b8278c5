#include "ratios.h"

#include <algorithm>

namespace crigate::monitor {

double CpuCapacity(double quota_cores, int cpuset_cpus, int node_cpus) {
  double capacity = node_cpus > 0 ? node_cpus : 1;
  if (cpuset_cpus > 0) capacity = std::min(capacity, static_cast<double>(cpuset_cpus));
  if (quota_cores > 0) capacity = std::min(capacity, quota_cores);
  return capacity;
}

std::optional<double> CpuRatio(uint64_t previous_usage_usec, uint64_t usage_usec,
                               double elapsed_seconds, double capacity_cores) {
  if (usage_usec < previous_usage_usec || elapsed_seconds <= 0 || capacity_cores <= 0) {
    return std::nullopt;
  }
  double used_seconds = static_cast<double>(usage_usec - previous_usage_usec) / 1e6;
  return used_seconds / (elapsed_seconds * capacity_cores);
}

std::optional<double> MemoryRatio(uint64_t current, uint64_t limit, uint64_t node_memory) {
  uint64_t denominator = limit;
  if (denominator == kUnlimited || (node_memory != 0 && node_memory < denominator)) {
    denominator = node_memory;
  }
  if (denominator == 0) return std::nullopt;
  return static_cast<double>(current) / static_cast<double>(denominator);
}

std::optional<double> PidsRatio(uint64_t current, uint64_t max, uint64_t node_task_limit) {
  uint64_t denominator = max == kUnlimited ? node_task_limit : max;
  if (denominator == 0) return std::nullopt;
  return static_cast<double>(current) / static_cast<double>(denominator);
}

ContainerRatios ComputeContainerRatios(const Sample* previous, const Sample& current,
                                       double elapsed_seconds, const NodeCapacity& node) {
  ContainerRatios ratios;
  if (current.gone) return ratios;
  if (previous != nullptr && previous->cpu_ok && current.cpu_ok) {
    double capacity = CpuCapacity(current.cpu_quota_cores, current.cpuset_cpus, node.cpus);
    ratios.cpu =
        CpuRatio(previous->cpu_usage_usec, current.cpu_usage_usec, elapsed_seconds, capacity);
    ratios.cpu_cores =
        CpuRatio(previous->cpu_usage_usec, current.cpu_usage_usec, elapsed_seconds, 1.0);
  }
  if (current.memory_ok) {
    // The working set, as kubelet measures it: page cache the kernel can
    // drop is not memory the container holds.
    ratios.memory =
        MemoryRatio(current.memory_working_set, current.memory_limit, node.memory_bytes);
    ratios.memory_bytes = current.memory_working_set;
  }
  if (current.pids_ok) {
    ratios.pids = PidsRatio(current.pids_current, current.pids_max, node.task_limit);
  }
  return ratios;
}

std::optional<double> NodeCpuRatio(const CpuTimes& previous, const CpuTimes& current) {
  if (current.total <= previous.total || current.busy < previous.busy) return std::nullopt;
  return static_cast<double>(current.busy - previous.busy) /
         static_cast<double>(current.total - previous.total);
}

std::optional<double> NodeMemoryRatio(const MemInfo& memory) {
  if (memory.total_bytes == 0 || memory.available_bytes > memory.total_bytes) return std::nullopt;
  return static_cast<double>(memory.total_bytes - memory.available_bytes) /
         static_cast<double>(memory.total_bytes);
}

}  // namespace crigate::monitor
