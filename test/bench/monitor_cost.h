// What the monitor costs the node: crigate's own CPU time per second of wall
// time while K containers run (and are registered with the monitor, which
// happens when their StartContainer passes through crigate), with no CRI
// calls in flight. Read from /proc/<pid>/stat (utime + stime of every
// thread, live or exited), so it counts every thread crigate has.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "test/bench/scenarios.h"

namespace crigate::bench {

struct MonitorPlan {
  std::vector<int> counts = {0, 10, 50};  // containers running during each window
  double window_s = 10;                   // measured window per count
  double settle_s = 3;                    // wait after the containers start (> 2 samples)
  int containers_per_pod = 10;            // fewer pods: fewer shims to start
};

struct MonitorPoint {
  int containers = 0;
  double window_s = 0;
  double cpu_ms_per_s = 0;  // crigate's CPU time per second of wall time
  double core_percent = 0;  // the same as % of one core
  double load1 = 0;         // machine load average at the end of the window
  int open_fds = -1;        // crigate's open descriptors (the monitor keeps cgroup files open)
};

// crigate's CPU time so far (user + system, all threads), in seconds;
// negative when /proc/<pid>/stat cannot be read.
double ProcessCpuSeconds(pid_t pid);

// Starts containers through `gate` as each count needs, measures, and
// removes them all before returning. Empty with *error when a container
// cannot be started or the pid cannot be read.
std::vector<MonitorPoint> MeasureMonitorCost(
    test::CriClient& gate, pid_t pid, const MonitorPlan& plan, const ScenarioContext& context,
    const std::function<void(const std::string&)>& progress, std::string* error);

}  // namespace crigate::bench
