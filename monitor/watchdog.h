// The watchdog: after the gate lets a container start, it samples the
// container's cgroup every interval and protects the gateway. When a ratio
// (the container's CPU, memory or pids, or the node's CPU or memory) stays
// over its threshold for `samples` consecutive samples, it stops one
// container through the runtime's StopContainer and reports the action:
//  - a container's own breach: that container;
//  - a node-wide breach (the containers' summed CPU or working set against
//    the node's capacity, and/or their pressure stall; never the host's own
//    load): the most recently started container among those that use at
//    least victim_min_share of what the containers use together;
// never a protected one (by pod namespace or label). One stop at a time; the
// next only after the stop returned and the cool-down passed, and only if a
// ratio is (again) over its threshold for `samples` samples.
//
// Threads: Tick runs on the watchdog's own thread (Start) and owns the set of
// watched containers. Runtime calls run on two serial queues of their own:
// lookups (Register, Resync: ContainerStatus/ListContainers) and stops
// (StopContainer, then ActionReporter::Report). Register, Forget and Resync
// only post work, so they never block the gate.
//
// Each watched container keeps its cgroup files open (up to 10 descriptors):
// the daemon should raise RLIMIT_NOFILE's soft limit to the hard one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "action_reporter.h"
#include "breach_counter.h"
#include "cgroup_reader.h"
#include "monitor_config.h"
#include "node_reader.h"
#include "policy/base/time.h"
#include "ratios.h"
#include "runtime_backend.h"
#include "serial_task_queue.h"

namespace crigate::monitor {

struct WatchdogStats {
  uint64_t ticks = 0;
  size_t watched = 0;  // containers sampled by the last tick
  uint64_t registrations_failed = 0;
  uint64_t stops_ok = 0;
  uint64_t stops_failed = 0;
  // CPU time of the sampling thread spent in Tick (thread CPU clock): the
  // monitor's own cost.
  std::chrono::nanoseconds tick_cpu_total{0};
  std::chrono::nanoseconds last_tick_cpu{0};
};

class Watchdog final {
 public:
  struct Dependencies {
    std::shared_ptr<ContainerRuntime> runtime;  // required
    std::shared_ptr<CgroupOpener> cgroups;      // required
    std::unique_ptr<NodeReader> node;           // required
    std::shared_ptr<ActionReporter> reporter;   // required
    std::shared_ptr<const base::Clock> clock;   // base::SystemClock when null
    // Operator-facing warnings (a registration that failed, a breach with
    // nothing to stop). stderr when empty. Called from the watchdog's threads.
    std::function<void(std::string_view)> warn;
  };

  Watchdog(MonitorConfig config, Dependencies dependencies);
  // Stop().
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Resync(), then samples every config.interval on a thread of its own until
  // Stop(). True when sampling runs (or the config disables the monitor, and
  // nothing is done); false when the thread cannot be started or Stop() was
  // already called.
  bool Start();
  // Ends sampling and the runtime queues. Waits for a StopContainer already
  // in flight (bounded by its deadline). Idempotent.
  void Stop();

  // After a successful StartContainer: look the container up through the
  // runtime (state, started_at, pid, cgroupsPath, labels) and watch it.
  // Asynchronous and non-blocking; any thread.
  void Register(const std::string& container_id);
  // After StopContainer/RemoveContainer: stop watching it. A container whose
  // cgroup vanishes is forgotten by itself too. Non-blocking; any thread.
  void Forget(const std::string& container_id);
  // List running containers through the runtime and watch those not yet
  // watched: at start-up (Start calls it) and every resync_interval, so a
  // crigate restart finds every container again. Non-blocking; any thread.
  void Resync();

  // One sampling round at clock->Now(): apply registrations and finished
  // stops, sample the node and every container, update breach counters, and
  // start a stop if one is due. The thread calls it every interval; tests
  // call it directly (never both, and never concurrently).
  void Tick();

  // Blocks until every lookup and stop posted so far has finished (for tests
  // and for an orderly shutdown).
  void WaitIdle();

  WatchdogStats stats() const;

 private:
  struct Watched;
  struct StopDone {
    std::string container_id;
    bool ok = false;
  };

  void Run();
  void Lookup(const std::string& container_id);
  void ResyncNow();
  void DrainInbox(std::chrono::steady_clock::time_point now);
  void SampleNode();
  void SampleContainers(std::chrono::steady_clock::time_point now);
  void MaybeAct(std::chrono::steady_clock::time_point now);
  void StartStop(Watched& victim, const char* resource, const BreachCounter& counter,
                 double threshold, double share);
  void Warn(std::string_view message);

  // Constant after construction.
  const MonitorConfig config_;
  const std::shared_ptr<ContainerRuntime> runtime_;
  const std::shared_ptr<CgroupOpener> cgroups_;
  const std::shared_ptr<ActionReporter> reporter_;
  const std::shared_ptr<const base::Clock> clock_;
  const std::function<void(std::string_view)> warn_;
  const NodeCapacity node_capacity_;

  // Owned by the thread that calls Tick.
  std::unique_ptr<NodeReader> node_;
  std::map<std::string, std::unique_ptr<Watched>> watched_;
  BreachCounter node_cpu_;
  BreachCounter node_memory_;
  BreachCounter node_cpu_pressure_;
  BreachCounter node_memory_pressure_;
  double containers_cpu_cores_ = 0;  // the last tick's sums
  uint64_t containers_memory_bytes_ = 0;
  bool stop_in_flight_ = false;
  std::chrono::steady_clock::time_point cooldown_until_{};
  std::chrono::steady_clock::time_point last_resync_at_{};
  bool warned_no_victim_ = false;

  // The inbox: what other threads hand to the Tick thread. Protected by inbox_mu_.
  mutable std::mutex inbox_mu_;
  std::vector<std::unique_ptr<Watched>> added_;
  std::vector<std::string> forgotten_;
  std::vector<StopDone> stops_done_;
  std::set<std::string> known_ids_;  // watched or about to be: Resync skips them
  bool last_resync_failed_ = false;
  WatchdogStats stats_;

  // The sampling thread. Protected by run_mu_.
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_requested_ = false;
  std::thread thread_;

  // Last: destroyed first, so no queued task outlives the members above.
  SerialTaskQueue lookups_;
  SerialTaskQueue stops_;
};

}  // namespace crigate::monitor
