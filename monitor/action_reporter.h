// What the watchdog did, for the audit log and the cloud's event endpoint.
// The daemon implements ActionReporter (audit line + queued cloud event);
// the monitor only describes the action.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace crigate::monitor {

struct StopAction {
  std::string container_id;
  std::string container_name;
  std::string pod_name;
  std::string pod_namespace;
  // What was over its threshold: "cpu", "memory", "pids" (the container's
  // own ratio) or "node_cpu", "node_memory", "node_cpu_pressure",
  // "node_memory_pressure" (node-wide; the victim is then the most recently
  // started container among those that contribute).
  std::string resource;
  double ratio = 0;      // the last sample's ratio
  double threshold = 0;  // the threshold it was over
  int samples = 0;       // consecutive samples over the threshold
  // A node-wide stop: the victim's share of what the containers use
  // together (1 for a container's own breach).
  double share = 0;
  int64_t started_at_ns = 0;
  int64_t grace_seconds = 0;
  std::chrono::system_clock::time_point decided_at;
  // StopContainer's answer: OK, or the runtime's error (the container may
  // still run; the watchdog will try again after its cool-down).
  grpc::Status result;
};

class ActionReporter {
 public:
  virtual ~ActionReporter() = default;
  // Called once per stop, after StopContainer returned, on the watchdog's
  // action thread (never on a gate thread). Must not throw and should return
  // quickly: queue the cloud event, do not send it inline.
  virtual void Report(const StopAction& action) = 0;
};

}  // namespace crigate::monitor
