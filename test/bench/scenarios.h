// The benchmark's workloads, one entry each. Adding a workload (a gated call
// with the policy stages configured, the cloud stage, another CRI method) is
// adding an entry to Scenarios() in scenarios.cc: the runner alternates the
// endpoints, the report renders the rows and checks the target.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "test/bench/runner.h"

namespace crigate::bench {

enum class ScenarioKind {
  kPassthrough,  // an ungated call: crigate forwards it untouched
  kGated,        // a gated call: inspected and decided before it is forwarded
  kLifecycle,    // a whole pod: run sandbox -> create -> start -> stop -> remove
  kMonitor,      // crigate's CPU time with containers registered (monitor_cost.h)
};

struct ScenarioContext {
  std::string image;    // busybox image the pods run
  std::string log_dir;  // pod log directory
};

// One of the targets, checked against a row's numbers.
struct TargetCheck {
  enum class Verdict {
    kMet,
    kMissed,
    kUnclear,  // the measured value meets it, or misses it, but its 95% interval spans it
  };
  std::string text;  // "p50 ≤ 1.50×"
  Verdict verdict = Verdict::kMissed;
};

// What a row of the report is computed from.
struct RowMeasure {
  int callers = 0;
  Summary baseline;                  // direct containerd
  Summary measured;                  // the endpoint of this row
  std::optional<Summary> reference;  // the scenario's reference endpoint, if measured
  double p50_ratio_low = 0;          // 95% bootstrap interval of measured p50 / baseline p50
  double p50_ratio_high = 0;
};

// The targets that apply to the row of `role` (none: empty).
using TargetFn =
    std::function<std::vector<TargetCheck>(const std::string& role, const RowMeasure&)>;

struct Scenario {
  std::string name;   // --scenarios name
  std::string title;  // report label
  ScenarioKind kind = ScenarioKind::kPassthrough;
  // Endpoints by role. The first is the baseline ("direct"); each other one
  // becomes a row compared with it. Required: the scenario is skipped (with
  // the reason in the report) when one is missing. Optional: measured when
  // given, e.g. the ungated crigate that separates the hop from the gate.
  std::vector<std::string> required = {"direct", "gate"};
  std::vector<std::string> optional;
  // The role whose p50 the "added by" column of the other rows is taken
  // against, besides direct (e.g. gate-ungated: what gating adds to the hop).
  std::string reference;
  std::vector<int> callers;  // empty: from --callers
  bool counts_pods = false;  // unit is a pod: counts come from --pods, not --calls
  std::set<grpc::StatusCode> expected = {grpc::StatusCode::OK};
  Operation op;
  TargetFn target;   // may be empty: reported, no target
  std::string note;  // one line under the table: what the call isolates
};

std::vector<Scenario> Scenarios(const ScenarioContext& context);

// Report label of an endpoint role.
std::string RoleLabel(const std::string& role);

}  // namespace crigate::bench
