// The benchmark's results as a Markdown table (for people and the README) and
// as JSON (for tools and later comparison).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/bench/monitor_cost.h"
#include "test/bench/runner.h"
#include "test/bench/scenarios.h"

namespace crigate::bench {

// Where the numbers came from.
struct MachineInfo {
  std::string host;
  std::string cpu_model;
  int cpus = 0;
  std::string kernel;
  std::string containerd;  // runtime name and version, from Version
  std::string started;     // ISO 8601, UTC
  double load_start[3] = {0, 0, 0};
  double load_end[3] = {0, 0, 0};
};

MachineInfo DescribeMachine();
// The three load averages of /proc/loadavg.
void ReadLoadAverages(double out[3]);

// One scenario at one caller count.
struct ScenarioRun {
  const Scenario* scenario = nullptr;
  int callers = 0;
  RunPlan plan;
  std::vector<EndpointSamples> samples;  // baseline first
  std::string skipped;                   // why it did not run; empty when it ran
  double load1_before = 0;
  double load1_after = 0;
};

struct Report {
  MachineInfo machine;
  std::vector<std::string> notes;  // free lines from --note (commit, build type, ...)
  std::vector<ScenarioRun> runs;
  MonitorPlan monitor_plan;
  std::vector<MonitorPoint> monitor;
  std::string monitor_skipped;  // why the monitor scenario did not run
  bool monitor_requested = false;
  nlohmann::json micro;  // Google Benchmark's JSON output, or null
  // crigate's (--gate-pid) resident memory before the scenarios and its peak
  // at the end; 0 when unknown.
  int64_t gate_rss_idle_kib = 0;
  int64_t gate_rss_peak_kib = 0;
  // Of it, the process's own pages (RssAnon: not the shared libraries'
  // mapped pages), before the scenarios and after them.
  int64_t gate_anon_idle_kib = 0;
  int64_t gate_anon_after_kib = 0;
};

// A "<key>: N kB" line of /proc/<pid>/status (VmRSS, VmHWM); 0 when absent.
int64_t ReadStatusKib(pid_t pid, const std::string& key);

std::string RenderMarkdown(const Report& report);
nlohmann::json RenderJson(const Report& report);

}  // namespace crigate::bench
