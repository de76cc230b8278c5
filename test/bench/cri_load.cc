// crigate-bench: how much slower is a node with crigate in front? Runs the
// same CRI workloads against containerd's socket and crigate's, alternating
// rounds, and prints p50/p99 latency and throughput for each, with ratios, as
// a Markdown table (and JSON). scripts/bench.sh starts everything and runs it.
//
//   crigate-bench --direct SOCK --gate SOCK [--gate-ungated SOCK] [--gate-cloud SOCK]
//                 [--gate-pid PID] [--scenarios a,b,...] [--callers 1,8] [--calls N]
//                 [--warmup N] [--pods N] [--pod-warmup N] [--rounds N]
//                 [--monitor-containers 0,10,50] [--monitor-window S] [--monitor-settle S]
//                 [--image REF] [--log-dir DIR] [--json FILE] [--markdown FILE]
//                 [--micro-json FILE] [--note TEXT]...
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test/bench/monitor_cost.h"
#include "test/bench/report.h"
#include "test/bench/runner.h"
#include "test/bench/scenarios.h"
#include "test/cri_client.h"

namespace crigate::bench {
namespace {

namespace v1 = ::runtime::v1;

constexpr char kUsage[] = R"(usage: crigate-bench --direct SOCK --gate SOCK [options]

Runs CRI workloads against containerd (--direct) and crigate (--gate) in
alternating rounds and prints latency and throughput for each, with ratios.

Endpoints (unix socket paths):
  --direct SOCK          containerd's CRI socket (the baseline)
  --gate SOCK            crigate, default gating
  --gate-ungated SOCK    crigate gating nothing: separates the hop from the gate
  --gate-cloud SOCK      crigate with the cloud stage (gated-cloud-* scenarios)
  --gate-pid PID         crigate's pid (the --gate one): its CPU per call, its
                         memory, and the monitor scenario
  --direct-pid PID       containerd's pid: its CPU per call, direct and through crigate
Workload:
  --scenarios LIST       default: every scenario (version,list,imagestatus,gated,
                         gated-create,gated-cloud-hit,gated-cloud-miss,lifecycle,
                         lifecycle4,monitor)
  --callers LIST         concurrent callers for unary scenarios (default 1,8)
  --calls N              measured calls per endpoint per caller count (default 2000)
  --warmup N             unmeasured calls per endpoint first (default 200)
  --pods N               measured pods per endpoint, lifecycle scenarios (default 40)
  --pod-warmup N         unmeasured pods per endpoint first (default 2)
  --rounds N             alternating rounds (default 5)
  --monitor-containers LIST  containers running per window (default 0,10,50)
  --monitor-window S     measured seconds per window (default 10)
  --monitor-settle S     seconds between starting containers and measuring (default 3)
  --image REF            image the pods run (default docker.io/library/busybox:1.35)
  --log-dir DIR          pod log directory (default /tmp/crigate-bench/pod-logs)
Output:
  --markdown FILE        also write the table there (it always goes to stdout)
  --json FILE            results as JSON
  --micro-json FILE      crigate-microbench's --benchmark_out JSON, added to both
  --note TEXT            a line for the report header (repeatable)
Progress goes to stderr. Exit status: 0 when every scenario ran without
unexpected answers, 1 otherwise, 2 on bad usage.
)";

struct Flags {
  std::map<std::string, std::string> endpoints;  // role -> socket
  pid_t gate_pid = -1;
  pid_t direct_pid = -1;
  std::vector<std::string> scenarios;
  std::vector<int> callers = {1, 8};
  int64_t calls = 2000, warmup = 200, pods = 40, pod_warmup = 2;
  int rounds = 5;
  MonitorPlan monitor;
  ScenarioContext context{"docker.io/library/busybox:1.35", "/tmp/crigate-bench/pod-logs"};
  std::string json_path, markdown_path, micro_json_path;
  std::vector<std::string> notes;
};

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool ParseInts(const std::string& text, std::vector<int>* out) {
  out->clear();
  for (const auto& item : SplitList(text)) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (*end != '\0' || v < 0) return false;
    out->push_back(static_cast<int>(v));
  }
  return !out->empty();
}

template <typename T>
bool ParseNumber(const std::string& text, T* out) {
  std::istringstream in(text);
  T v{};
  if (!(in >> v) || !in.eof() || v < 0) return false;
  *out = v;
  return true;
}

bool ParseFlags(int argc, char** argv, Flags* f, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      *error = "";
      return false;
    }
    if (i + 1 >= argc) {
      *error = flag + ": needs a value";
      return false;
    }
    std::string v = argv[++i];
    bool ok = true;
    if (flag == "--direct")
      f->endpoints["direct"] = v;
    else if (flag == "--gate")
      f->endpoints["gate"] = v;
    else if (flag == "--gate-ungated")
      f->endpoints["gate-ungated"] = v;
    else if (flag == "--gate-cloud")
      f->endpoints["gate-cloud"] = v;
    else if (flag == "--gate-pid")
      ok = ParseNumber(v, &f->gate_pid);
    else if (flag == "--direct-pid")
      ok = ParseNumber(v, &f->direct_pid);
    else if (flag == "--scenarios")
      f->scenarios = SplitList(v);
    else if (flag == "--callers")
      ok = ParseInts(v, &f->callers);
    else if (flag == "--calls")
      ok = ParseNumber(v, &f->calls);
    else if (flag == "--warmup")
      ok = ParseNumber(v, &f->warmup);
    else if (flag == "--pods")
      ok = ParseNumber(v, &f->pods);
    else if (flag == "--pod-warmup")
      ok = ParseNumber(v, &f->pod_warmup);
    else if (flag == "--rounds")
      ok = ParseNumber(v, &f->rounds) && f->rounds > 0;
    else if (flag == "--monitor-containers")
      ok = ParseInts(v, &f->monitor.counts);
    else if (flag == "--monitor-window")
      ok = ParseNumber(v, &f->monitor.window_s);
    else if (flag == "--monitor-settle")
      ok = ParseNumber(v, &f->monitor.settle_s);
    else if (flag == "--image")
      f->context.image = v;
    else if (flag == "--log-dir")
      f->context.log_dir = v;
    else if (flag == "--json")
      f->json_path = v;
    else if (flag == "--markdown")
      f->markdown_path = v;
    else if (flag == "--micro-json")
      f->micro_json_path = v;
    else if (flag == "--note")
      f->notes.push_back(v);
    else {
      *error = "unknown flag " + flag;
      return false;
    }
    if (!ok) {
      *error = flag + ": bad value '" + v + "'";
      return false;
    }
  }
  if (!f->endpoints.count("direct") || !f->endpoints.count("gate")) {
    *error = "--direct and --gate are required";
    return false;
  }
  for (int c : f->callers) {
    if (c < 1) {
      *error = "--callers: each count must be at least 1";
      return false;
    }
  }
  return true;
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "crigate-bench: %s\n", line.c_str());
}

// Every endpoint must answer Version before anything is measured.
bool Connect(const Flags& f, std::map<std::string, Endpoint>* out, std::string* containerd) {
  for (const auto& [role, socket] : f.endpoints) {
    Endpoint e{role, socket, std::make_shared<test::CriClient>(socket, std::chrono::seconds(120))};
    v1::VersionResponse version;
    grpc::Status s = e.client->Version(&version);
    if (!s.ok()) {
      Progress(role + " (" + socket + ") does not answer Version: " +
               test::StatusCodeName(s.error_code()) + ": " + s.error_message());
      return false;
    }
    if (role == "direct") {
      *containerd = version.runtime_name() + " " + version.runtime_version() + " (CRI " +
                    version.runtime_api_version() + ")";
    }
    (*out)[role] = std::move(e);
  }
  return true;
}

// Why the scenario cannot run with these endpoints; empty when it can.
std::string MissingEndpoint(const Scenario& sc, const std::map<std::string, Endpoint>& endpoints) {
  for (const auto& role : sc.required) {
    if (!endpoints.count(role)) {
      return "no --" + role + " endpoint" +
             (role == "gate-cloud" ? " (scripts/bench.sh starts one once the cloud stage exists)"
                                   : "");
    }
  }
  return "";
}

int Main(int argc, char** argv) {
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    if (!error.empty()) std::fprintf(stderr, "crigate-bench: %s\n\n", error.c_str());
    std::fputs(kUsage, stderr);
    return error.empty() ? 0 : 2;
  }
  mkdir(flags.context.log_dir.c_str(), 0755);

  std::vector<Scenario> all = Scenarios(flags.context);
  std::vector<const Scenario*> chosen;
  if (flags.scenarios.empty()) {
    for (const auto& sc : all) chosen.push_back(&sc);
  } else {
    for (const auto& name : flags.scenarios) {
      const Scenario* found = nullptr;
      for (const auto& sc : all) {
        if (sc.name == name) found = &sc;
      }
      if (!found) {
        std::string names;
        for (const auto& sc : all) names += (names.empty() ? "" : ", ") + sc.name;
        std::fprintf(stderr, "crigate-bench: no scenario '%s' (one of: %s)\n", name.c_str(),
                     names.c_str());
        return 2;
      }
      chosen.push_back(found);
    }
  }

  Report report;
  report.machine = DescribeMachine();
  report.notes = flags.notes;
  report.monitor_plan = flags.monitor;
  std::map<std::string, Endpoint> endpoints;
  if (!Connect(flags, &endpoints, &report.machine.containerd)) return 1;

  // The image the lifecycle and monitor pods run must already be on the node.
  v1::ImageStatusResponse image;
  grpc::Status image_status = endpoints["direct"].client->ImageStatus(flags.context.image, &image);
  bool have_image = image_status.ok() && !image.image().id().empty();

  if (flags.gate_pid > 0) {
    report.gate_rss_idle_kib = ReadStatusKib(flags.gate_pid, "VmRSS");
    report.gate_anon_idle_kib = ReadStatusKib(flags.gate_pid, "RssAnon");
  }
  bool failed = false;
  for (const Scenario* sc : chosen) {
    if (sc->kind == ScenarioKind::kMonitor) {
      report.monitor_requested = true;
      if (flags.gate_pid <= 0) {
        report.monitor_skipped = "no --gate-pid: crigate's pid is needed to read its CPU time";
      } else if (!have_image) {
        report.monitor_skipped = flags.context.image + " is not on the node";
      } else {
        Progress("monitor: crigate pid " + std::to_string(flags.gate_pid));
        report.monitor = MeasureMonitorCost(*endpoints["gate"].client, flags.gate_pid,
                                            flags.monitor, flags.context, Progress, &error);
        if (report.monitor.empty()) {
          report.monitor_skipped = "failed: " + error;
          failed = true;
        }
      }
      continue;
    }
    std::vector<int> callers = sc->callers.empty() ? flags.callers : sc->callers;
    for (int c : callers) {
      ScenarioRun run;
      run.scenario = sc;
      run.callers = c;
      run.plan.rounds = flags.rounds;
      run.plan.callers = c;
      run.plan.calls = sc->counts_pods ? flags.pods : flags.calls;
      run.plan.warmup = sc->counts_pods ? flags.pod_warmup : flags.warmup;
      run.plan.expected = sc->expected;
      if (flags.direct_pid > 0) run.plan.cpu_pids["containerd"] = flags.direct_pid;
      if (flags.gate_pid > 0) run.plan.cpu_pids["crigate"] = flags.gate_pid;
      run.skipped = MissingEndpoint(*sc, endpoints);
      if (run.skipped.empty() && sc->kind == ScenarioKind::kLifecycle && !have_image) {
        run.skipped = flags.context.image + " is not on the node (scripts/import-images.sh)";
      }
      if (!run.skipped.empty()) {
        Progress(sc->name + ": skipped: " + run.skipped);
        run.callers = 0;  // one row for the scenario, whatever the caller counts
        report.runs.push_back(std::move(run));
        break;
      }
      std::vector<const Endpoint*> order;
      for (const auto& role : sc->required) order.push_back(&endpoints[role]);
      for (const auto& role : sc->optional) {
        if (endpoints.count(role)) order.insert(order.begin() + 1, &endpoints[role]);
      }
      double load[3];
      ReadLoadAverages(load);
      run.load1_before = load[0];
      Progress(sc->name + ", " + std::to_string(c) + " caller(s)");
      run.samples = RunAlternating(run.plan, order, sc->op,
                                   [&](const std::string& line) { Progress("  " + line); });
      ReadLoadAverages(load);
      run.load1_after = load[0];
      for (const auto& e : run.samples) failed |= e.unexpected > 0;
      report.runs.push_back(std::move(run));
    }
  }
  ReadLoadAverages(report.machine.load_end);
  if (flags.gate_pid > 0) {
    report.gate_rss_peak_kib = ReadStatusKib(flags.gate_pid, "VmHWM");
    report.gate_anon_after_kib = ReadStatusKib(flags.gate_pid, "RssAnon");
  }

  if (!flags.micro_json_path.empty()) {
    std::ifstream in(flags.micro_json_path);
    report.micro = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (report.micro.is_discarded()) {
      Progress("cannot parse " + flags.micro_json_path + "; micro-benchmarks left out");
      report.micro = nullptr;
    }
  }

  std::string markdown = RenderMarkdown(report);
  std::fputs(markdown.c_str(), stdout);
  if (!flags.markdown_path.empty()) std::ofstream(flags.markdown_path) << markdown;
  if (!flags.json_path.empty())
    std::ofstream(flags.json_path) << RenderJson(report).dump(2) << "\n";
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace crigate::bench

int main(int argc, char** argv) { return crigate::bench::Main(argc, argv); }
