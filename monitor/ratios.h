// The ratios the watchdog compares with its thresholds. Pure functions; each
// gives nullopt when its inputs cannot give a meaningful ratio (no previous
// sample, a counter that went backwards, no denominator), and a missing
// ratio never counts as over a threshold.
#pragma once

#include <cstdint>
#include <optional>

#include "cgroup_reader.h"
#include "node_reader.h"
#include "proc_files.h"

namespace crigate::monitor {

// CPUs a container may use: its CFS quota if set, else its cpuset, else the
// node's CPUs; the smaller of quota and cpuset when both are set, since both
// bind.
double CpuCapacity(double quota_cores, int cpuset_cpus, int node_cpus);

// usage delta / (elapsed wall time x CPUs available). `elapsed_seconds` is
// the measured time between the two samples, not the nominal interval, so a
// late tick does not inflate the ratio.
std::optional<double> CpuRatio(uint64_t previous_usage_usec, uint64_t usage_usec,
                               double elapsed_seconds, double capacity_cores);

// used / limit (the caller passes the working set); the node's memory stands
// in for an unlimited limit (and caps a limit larger than the node).
std::optional<double> MemoryRatio(uint64_t current, uint64_t limit, uint64_t node_memory);

// current / max; the node's task limit stands in for an unlimited max.
std::optional<double> PidsRatio(uint64_t current, uint64_t max, uint64_t node_task_limit);

struct ContainerRatios {
  std::optional<double> cpu;
  std::optional<double> memory;  // working set / limit
  std::optional<double> pids;
  // What the container uses, for the node-wide sums: CPUs' worth over the
  // interval, and its working set in bytes.
  std::optional<double> cpu_cores;
  std::optional<uint64_t> memory_bytes;
};

// All three ratios of one container. `previous` is nullptr for the first
// sample (no CPU ratio then).
ContainerRatios ComputeContainerRatios(const Sample* previous, const Sample& current,
                                       double elapsed_seconds, const NodeCapacity& node);

// Busy share of all CPUs between two /proc/stat readings.
std::optional<double> NodeCpuRatio(const CpuTimes& previous, const CpuTimes& current);

// (MemTotal - MemAvailable) / MemTotal.
std::optional<double> NodeMemoryRatio(const MemInfo& memory);

}  // namespace crigate::monitor
