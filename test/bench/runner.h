// Runs one workload against several CRI sockets in alternating rounds and
// keeps every call's latency, so the sockets are compared under the same
// drift (other load on the machine, containerd's caches, page cache).
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test/cri_client.h"

namespace crigate::bench {

// One socket under test, by role: "direct" (containerd), "gate" (crigate with
// its default gating), "gate-ungated" (crigate gating nothing: the bare hop),
// "gate-cloud" (crigate with the cloud stage configured).
struct Endpoint {
  std::string role;
  std::string socket;
  std::shared_ptr<test::CriClient> client;  // one channel, shared by all callers (as kubelet)
};

// Which call this is, so an operation can name what it creates uniquely.
struct CallTag {
  std::string role;
  int round = 0;  // -1 for warm-up
  int caller = 0;
  int64_t seq = 0;  // per caller
};

// One unit of measured work: a unary call, or a whole pod lifecycle. Called
// from `callers` threads at once; it must be safe for that.
using Operation = std::function<grpc::Status(test::CriClient& client, const CallTag& tag)>;

struct RunPlan {
  int64_t calls = 0;   // measured units per endpoint, over all rounds
  int64_t warmup = 0;  // units per endpoint before the first round, not recorded
  int rounds = 5;
  int callers = 1;
  std::set<grpc::StatusCode> expected{grpc::StatusCode::OK};  // outcomes that count as success
  // Processes whose CPU time is read around every round, by name
  // ("containerd", "crigate"): what each costs per call on each endpoint.
  std::map<std::string, pid_t> cpu_pids;
};

// Everything measured on one endpoint.
struct EndpointSamples {
  std::string role;
  std::vector<double> latency_us;        // one per measured unit, every round
  double wall_s = 0;                     // summed over rounds: first start to last finish
  int64_t unexpected = 0;                // answers outside the plan's expected codes
  std::map<std::string, int64_t> codes;  // status code name -> count
  std::string first_unexpected;          // "CODE: message"
  std::map<std::string, double>
      cpu_ms;  // RunPlan::cpu_pids' CPU time during this endpoint's rounds
};

// A process's CPU time so far (every thread, user and system), in ms, to
// the nanosecond; negative when it cannot be read.
double ProcessCpuMs(pid_t pid);

struct Summary {
  int64_t calls = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0, min_us = 0, max_us = 0;
  double throughput = 0;  // units per second of wall time
};

// Nearest-rank percentile (p in [0, 1]) of unsorted values; 0 when empty.
double Percentile(std::vector<double> values, double p);
Summary Summarise(const EndpointSamples& samples);

// 95% interval of p50(measured) / p50(baseline) by bootstrap resampling of
// both sample sets. The seed is fixed: the same samples give the same interval.
std::pair<double, double> P50RatioInterval(const std::vector<double>& baseline,
                                           const std::vector<double>& measured,
                                           int resamples = 1000);

// Round r runs the endpoints in order starting at r % size (a rotation), so
// each endpoint goes first equally often. `progress` gets one line per round.
std::vector<EndpointSamples> RunAlternating(
    const RunPlan& plan, const std::vector<const Endpoint*>& endpoints, const Operation& op,
    const std::function<void(const std::string&)>& progress);

}  // namespace crigate::bench
