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

// The target for one row, checked against the measured numbers.
struct TargetCheck {
  std::string text;         // "gate p50 <= 1.5x direct"
  std::optional<bool> met;  // nullopt: not applicable to this row (e.g. 1 caller)
};

// What a row of the report is computed from.
struct RowMeasure {
  int callers = 0;
  Summary baseline;                  // direct containerd
  Summary measured;                  // the endpoint of this row
  std::optional<Summary> reference;  // the scenario's reference endpoint, if measured
};

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
  // The target for the row of `role`; text empty when none applies.
  std::function<TargetCheck(const std::string& role, const RowMeasure&)> target;
  std::string note;  // one line under the table: what the call isolates
};

std::vector<Scenario> Scenarios(const ScenarioContext& context);

// Report label of an endpoint role.
std::string RoleLabel(const std::string& role);

}  // namespace crigate::bench
