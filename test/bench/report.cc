#include "test/bench/report.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <thread>
#include <tuple>

namespace crigate::bench {
namespace {

using nlohmann::json;

std::string Latency(double us) {
  if (us < 1000) return fmt::format("{:.0f} µs", us);
  if (us < 1e6) return fmt::format("{:.1f} ms", us / 1000);
  return fmt::format("{:.2f} s", us / 1e6);
}

std::string Rate(double per_s) {
  if (per_s >= 100) return fmt::format("{:.0f}/s", per_s);
  if (per_s >= 10) return fmt::format("{:.1f}/s", per_s);
  return fmt::format("{:.2f}/s", per_s);
}

std::string Added(double us) {
  std::string sign = us < 0 ? "−" : "+";
  return sign + Latency(std::fabs(us));
}

const char* VerdictText(TargetCheck::Verdict v) {
  switch (v) {
    case TargetCheck::Verdict::kMet:
      return "met";
    case TargetCheck::Verdict::kMissed:
      return "**missed**";
    case TargetCheck::Verdict::kUnclear:
      return "unclear (interval spans it)";
  }
  return "?";
}

std::string Cell(const std::vector<TargetCheck>& checks) {
  std::string out;
  for (const auto& t : checks) {
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", t.text, VerdictText(t.verdict));
  }
  return out;
}

// Google Benchmark times, in the unit a reader takes in at a glance.
std::string Duration(double value, const std::string& unit) {
  double ns = value * (unit == "us" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9 : 1);
  if (ns < 1000) return fmt::format("{:.1f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.2f} µs", ns / 1e3);
  return fmt::format("{:.2f} ms", ns / 1e6);
}

// The row's numbers for the target check: this endpoint against direct and
// against the scenario's reference endpoint.
RowMeasure Measure(const ScenarioRun& run, size_t row) {
  RowMeasure m;
  m.callers = run.callers;
  m.baseline = Summarise(run.samples[0]);
  m.measured = Summarise(run.samples[row]);
  for (const auto& s : run.samples) {
    if (s.role == run.scenario->reference) m.reference = Summarise(s);
  }
  std::tie(m.p50_ratio_low, m.p50_ratio_high) =
      P50RatioInterval(run.samples[0].latency_us, run.samples[row].latency_us);
  return m;
}

std::string Kind(ScenarioKind kind) {
  switch (kind) {
    case ScenarioKind::kPassthrough:
      return "passthrough";
    case ScenarioKind::kGated:
      return "gated";
    case ScenarioKind::kLifecycle:
      return "lifecycle";
    case ScenarioKind::kMonitor:
      return "monitor";
  }
  return "?";
}

std::string ReadFirstLine(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? line
                                        : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "";
}

json SummaryJson(const Summary& s) {
  return {{"calls", s.calls},
          {"p50_us", s.p50_us},
          {"p99_us", s.p99_us},
          {"mean_us", s.mean_us},
          {"min_us", s.min_us},
          {"max_us", s.max_us},
          {"throughput_per_s", s.throughput}};
}

}  // namespace

int64_t ReadStatusKib(pid_t pid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

namespace {

// CPU per call of each watched process on each endpoint, where it was read.
void RenderCpu(const Report& report, std::string& out) {
  bool any = false;
  for (const ScenarioRun& run : report.runs) {
    for (const EndpointSamples& e : run.samples) any |= !e.cpu_ms.empty();
  }
  if (!any && report.gate_rss_idle_kib == 0) return;
  out += "### What each call costs the processes\n\n";
  if (report.gate_rss_idle_kib > 0) {
    out += fmt::format(
        "crigate's resident memory (the `--gate` process, monitor on): {:.1f} MiB before the "
        "scenarios, {:.1f} MiB at its peak. Of it, its own pages (RssAnon, not the shared "
        "libraries' mapped pages): {:.1f} MiB before, {:.1f} MiB after.\n\n",
        static_cast<double>(report.gate_rss_idle_kib) / 1024,
        static_cast<double>(report.gate_rss_peak_kib) / 1024,
        static_cast<double>(report.gate_anon_idle_kib) / 1024,
        static_cast<double>(report.gate_anon_after_kib) / 1024);
  }
  if (!any) return;
  out +=
      "CPU time (every thread, user + system) read around each round, divided by the calls "
      "measured in it; containerd × = containerd's CPU per call on this endpoint / direct.\n\n"
      "| scenario | callers | endpoint | containerd µs/call | containerd × | crigate µs/call | "
      "crigate ms per 10k calls |\n|---|---:|---|---:|---:|---:|---:|\n";
  for (const ScenarioRun& run : report.runs) {
    if (!run.skipped.empty() || run.samples.empty()) continue;
    const EndpointSamples& direct = run.samples.front();
    auto per_call = [](const EndpointSamples& e, const std::string& name) -> double {
      auto it = e.cpu_ms.find(name);
      if (it == e.cpu_ms.end() || e.latency_us.empty()) return -1;
      return it->second * 1000 / static_cast<double>(e.latency_us.size());
    };
    const double base = per_call(direct, "containerd");
    for (size_t i = 0; i < run.samples.size(); ++i) {
      const EndpointSamples& e = run.samples[i];
      const double ctrd = per_call(e, "containerd");
      // Only the --gate process is watched: other crigates' rows have none.
      const double gate = e.role == "gate" ? per_call(e, "crigate") : -1;
      auto cell = [](double v) { return v < 0 ? std::string() : fmt::format("{:.1f}", v); };
      out +=
          fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", i == 0 ? run.scenario->title : "",
                      i == 0 ? std::to_string(run.callers) : "", RoleLabel(e.role), cell(ctrd),
                      i == 0 || base <= 0 || ctrd < 0 ? "" : fmt::format("{:.2f}", ctrd / base),
                      cell(gate), gate < 0 ? "" : fmt::format("{:.0f}", gate * 10));
    }
  }
  out += "\n";
}

void RenderCalls(const Report& report, std::string& out) {
  out +=
      "| scenario | callers | endpoint | n | p50 | p99 | rate | p50 × | p99 × | rate × | +p50 | "
      "+p50 vs ref | target |\n"
      "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  std::vector<std::string> footnotes;
  for (const ScenarioRun& run : report.runs) {
    const Scenario& sc = *run.scenario;
    if (!run.skipped.empty()) {
      out += fmt::format("| {} | | *skipped* | | | | | | | | | | {} |\n", sc.title, run.skipped);
      continue;
    }
    for (size_t i = 0; i < run.samples.size(); ++i) {
      const EndpointSamples& e = run.samples[i];
      Summary s = Summarise(e);
      std::string first = i == 0 ? sc.title : "";
      std::string callers = i == 0 ? std::to_string(run.callers) : "";
      if (i == 0) {
        out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | | | | | | |\n", first, callers,
                           RoleLabel(e.role), s.calls, Latency(s.p50_us), Latency(s.p99_us),
                           Rate(s.throughput));
      } else {
        RowMeasure m = Measure(run, i);
        std::string vs_ref;
        if (m.reference && e.role != sc.reference) {
          vs_ref = Added(m.measured.p50_us - m.reference->p50_us);
        }
        std::vector<TargetCheck> target =
            sc.target ? sc.target(e.role, m) : std::vector<TargetCheck>{};
        out += fmt::format(
            "| | | {} | {} | {} | {} | {} | {:.2f} ({:.2f}–{:.2f}) | {:.2f} | {:.2f} | {} | {} | "
            "{} |\n",
            RoleLabel(e.role), s.calls, Latency(s.p50_us), Latency(s.p99_us), Rate(s.throughput),
            m.measured.p50_us / m.baseline.p50_us, m.p50_ratio_low, m.p50_ratio_high,
            m.measured.p99_us / m.baseline.p99_us, m.measured.throughput / m.baseline.throughput,
            Added(m.measured.p50_us - m.baseline.p50_us), vs_ref, Cell(target));
      }
      if (e.unexpected > 0) {
        footnotes.push_back(fmt::format("{} ({} callers), {}: {} unexpected answers, first: {}",
                                        sc.title, run.callers, RoleLabel(e.role), e.unexpected,
                                        e.first_unexpected));
      }
    }
  }
  out += "\n";
  // One line per distinct note, under the first scenario that has it.
  std::vector<std::string> seen, notes;
  for (const ScenarioRun& run : report.runs) {
    const Scenario& sc = *run.scenario;
    if (sc.note.empty() || std::find(seen.begin(), seen.end(), sc.note) != seen.end()) continue;
    seen.push_back(sc.note);
    notes.push_back(fmt::format("- {}: {}.", sc.title, sc.note));
  }
  for (const auto& n : notes) out += n + "\n";
  for (const auto& f : footnotes) out += "- **" + f + "**\n";
  if (!notes.empty() || !footnotes.empty()) out += "\n";
}

void RenderMonitor(const Report& report, std::string& out) {
  out += "### Monitor cost\n\n";
  if (!report.monitor_skipped.empty()) {
    out += fmt::format("*Skipped:* {}\n\n", report.monitor_skipped);
    return;
  }
  out += fmt::format(
      "crigate's CPU time (user + system, all threads, from /proc/<pid>/stat) per second of wall "
      "time over {:.0f} s, {:.0f} s after the containers started, with no CRI calls in flight. "
      "Resolution: 1 clock tick ({:.2f}% of a core over the window).\n\n",
      report.monitor_plan.window_s, report.monitor_plan.settle_s,
      100.0 / sysconf(_SC_CLK_TCK) / report.monitor_plan.window_s);
  out +=
      "| containers | crigate CPU | % of one core | crigate's open fds | load (1 min) | target |\n"
      "|---:|---:|---:|---:|---:|---|\n";
  for (const MonitorPoint& p : report.monitor) {
    std::string target;
    if (p.containers >= 50) {
      target = Cell({{"≤ 1% of one core", p.core_percent <= 1.0 ? TargetCheck::Verdict::kMet
                                                                : TargetCheck::Verdict::kMissed}});
    }
    out += fmt::format("| {} | {:.2f} ms/s | {:.2f}% | {} | {:.2f} | {} |\n", p.containers,
                       p.cpu_ms_per_s, p.core_percent, p.open_fds, p.load1, target);
  }
  out += "\n";
}

void RenderMicro(const Report& report, std::string& out) {
  if (report.micro.is_null() || !report.micro.contains("benchmarks")) return;
  out += "### Micro-benchmarks (crigate-microbench)\n\n";
  bool aggregates = false;
  for (const auto& b : report.micro["benchmarks"]) {
    if (b.value("run_type", "") == "aggregate") aggregates = true;
  }
  out += aggregates ? "Median of the repetitions; CV = coefficient of variation.\n\n" : "";
  out += "| benchmark | time | CPU | CV |\n|---|---:|---:|---:|\n";
  std::map<std::string, std::string> cv;
  for (const auto& b : report.micro["benchmarks"]) {
    if (b.value("aggregate_name", "") == "cv") {
      cv[b.value("run_name", "")] = fmt::format("{:.1f}%", b.value("cpu_time", 0.0) * 100);
    }
  }
  for (const auto& b : report.micro["benchmarks"]) {
    if (aggregates && b.value("aggregate_name", "") != "median") continue;
    std::string unit = b.value("time_unit", "ns");
    std::string name = b.value("run_name", b.value("name", ""));
    std::string label = b.value("label", "");
    out += fmt::format("| {}{} | {} | {} | {} |\n", name, label.empty() ? "" : " (" + label + ")",
                       Duration(b.value("real_time", 0.0), unit),
                       Duration(b.value("cpu_time", 0.0), unit), cv.count(name) ? cv[name] : "");
  }
  out += "\n";
}

}  // namespace

void ReadLoadAverages(double out[3]) {
  std::ifstream in("/proc/loadavg");
  in >> out[0] >> out[1] >> out[2];
}

MachineInfo DescribeMachine() {
  MachineInfo m;
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  m.host = host;
  m.cpu_model = ReadFirstLine("/proc/cpuinfo", "model name");
  m.cpus = static_cast<int>(std::thread::hardware_concurrency());
  utsname u{};
  if (uname(&u) == 0) m.kernel = fmt::format("{} {}", u.sysname, u.release);
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.started = when;
  ReadLoadAverages(m.load_start);
  return m;
}

std::string RenderMarkdown(const Report& report) {
  const MachineInfo& m = report.machine;
  std::string out = fmt::format("## crigate benchmark, {} on {}\n\n", m.started, m.host);
  out += fmt::format(
      "- Machine: {}, {} CPUs, {}; {}.\n- Load average (1/5/15 min): {:.2f} {:.2f} {:.2f} at "
      "start, {:.2f} {:.2f} {:.2f} at end.\n",
      m.cpu_model, m.cpus, m.kernel, m.containerd, m.load_start[0], m.load_start[1],
      m.load_start[2], m.load_end[0], m.load_end[1], m.load_end[2]);
  for (const auto& n : report.notes) out += "- " + n + "\n";
  out += "\n";
  if (!report.runs.empty()) {
    out += fmt::format(
        "Each scenario ran in {} alternating rounds (containerd, crigate, containerd, ...; each "
        "round starts with the next endpoint) after a warm-up. Percentiles are nearest-rank over "
        "every measured call of every round; rate = calls (pods, for the lifecycle rows) per "
        "second of wall time.\n\n"
        "- **Latency ratio** (p50 ×, p99 ×) = crigate / containerd: 1.00 is no cost, lower is "
        "better. In brackets: the 95% bootstrap interval of the p50 ratio.\n"
        "- **Throughput ratio** (rate ×) = crigate / containerd: 1.00 is no cost, higher is "
        "better.\n"
        "- +p50 = the row's p50 − containerd's; +p50 vs ref = the row's p50 − the scenario's "
        "reference endpoint's (what gating, or the cloud stage, adds on its own).\n"
        "- Targets are the issue's, reported as measured. A latency-ratio target is met or missed "
        "when its whole interval is on one side, else unclear.\n\n",
        report.runs.front().plan.rounds);
    out += "### CRI calls\n\n";
    RenderCalls(report, out);
  }
  RenderCpu(report, out);
  if (report.monitor_requested) RenderMonitor(report, out);
  RenderMicro(report, out);
  return out;
}

json RenderJson(const Report& report) {
  const MachineInfo& m = report.machine;
  json j;
  j["machine"] = {{"host", m.host},
                  {"cpu_model", m.cpu_model},
                  {"cpus", m.cpus},
                  {"kernel", m.kernel},
                  {"containerd", m.containerd},
                  {"started", m.started},
                  {"load_start", {m.load_start[0], m.load_start[1], m.load_start[2]}},
                  {"load_end", {m.load_end[0], m.load_end[1], m.load_end[2]}}};
  j["notes"] = report.notes;
  j["definitions"] = {
      {"latency_ratio", "gate / direct (p50 and p99); 1.0 = no cost, lower is better"},
      {"throughput_ratio", "gate / direct; 1.0 = no cost, higher is better"},
      {"added_p50_us", "endpoint p50 - direct p50"},
      {"added_p50_over_reference_us", "endpoint p50 - reference endpoint p50"},
      {"percentile", "nearest rank over all measured calls of all rounds"},
      {"throughput", "measured calls / summed wall time of the rounds"}};
  json scenarios = json::array();
  for (const ScenarioRun& run : report.runs) {
    const Scenario& sc = *run.scenario;
    json s = {{"name", sc.name},
              {"title", sc.title},
              {"kind", Kind(sc.kind)},
              {"callers", run.callers},
              {"rounds", run.plan.rounds},
              {"warmup_per_endpoint", run.plan.warmup},
              {"calls_per_endpoint", run.plan.calls},
              {"load1_before", run.load1_before},
              {"load1_after", run.load1_after}};
    if (!sc.reference.empty()) s["reference"] = sc.reference;
    if (!run.skipped.empty()) {
      s["skipped"] = run.skipped;
      scenarios.push_back(s);
      continue;
    }
    json endpoints = json::object();
    for (size_t i = 0; i < run.samples.size(); ++i) {
      const EndpointSamples& e = run.samples[i];
      json ej = SummaryJson(Summarise(e));
      ej["wall_s"] = e.wall_s;
      ej["codes"] = e.codes;
      ej["unexpected"] = e.unexpected;
      if (e.unexpected > 0) ej["first_unexpected"] = e.first_unexpected;
      if (i > 0) {
        RowMeasure rm = Measure(run, i);
        ej["p50_ratio"] = rm.measured.p50_us / rm.baseline.p50_us;
        ej["p99_ratio"] = rm.measured.p99_us / rm.baseline.p99_us;
        ej["throughput_ratio"] = rm.measured.throughput / rm.baseline.throughput;
        ej["added_p50_us"] = rm.measured.p50_us - rm.baseline.p50_us;
        if (rm.reference && e.role != sc.reference) {
          ej["added_p50_over_reference_us"] = rm.measured.p50_us - rm.reference->p50_us;
        }
        ej["p50_ratio_95ci"] = {rm.p50_ratio_low, rm.p50_ratio_high};
        for (const auto& [name, ms] : e.cpu_ms) {
          if (!e.latency_us.empty()) {
            ej["cpu_us_per_call"][name] = ms * 1000 / static_cast<double>(e.latency_us.size());
          }
        }
        if (sc.target) {
          json targets = json::array();
          for (const auto& t : sc.target(e.role, rm)) {
            json met = t.verdict == TargetCheck::Verdict::kUnclear
                           ? json()
                           : json(t.verdict == TargetCheck::Verdict::kMet);
            const char* verdict = t.verdict == TargetCheck::Verdict::kMet      ? "met"
                                  : t.verdict == TargetCheck::Verdict::kMissed ? "missed"
                                                                               : "unclear";
            targets.push_back({{"target", t.text}, {"met", met}, {"verdict", verdict}});
          }
          if (!targets.empty()) ej["targets"] = targets;
        }
      }
      endpoints[e.role] = ej;
    }
    s["endpoints"] = endpoints;
    scenarios.push_back(s);
  }
  j["scenarios"] = scenarios;
  if (report.monitor_requested) {
    json mon = {{"window_s", report.monitor_plan.window_s},
                {"settle_s", report.monitor_plan.settle_s}};
    if (!report.monitor_skipped.empty()) mon["skipped"] = report.monitor_skipped;
    json points = json::array();
    for (const MonitorPoint& p : report.monitor) {
      points.push_back({{"containers", p.containers},
                        {"window_s", p.window_s},
                        {"cpu_ms_per_s", p.cpu_ms_per_s},
                        {"core_percent", p.core_percent},
                        {"load1", p.load1},
                        {"open_fds", p.open_fds},
                        {"target_met", p.containers >= 50 ? json(p.core_percent <= 1.0) : json()}});
    }
    mon["points"] = points;
    j["monitor"] = mon;
  }
  if (!report.micro.is_null()) j["micro"] = report.micro;
  if (report.gate_rss_idle_kib > 0) {
    j["gate_memory_kib"] = {{"idle_rss", report.gate_rss_idle_kib},
                            {"peak_rss", report.gate_rss_peak_kib},
                            {"idle_anon", report.gate_anon_idle_kib},
                            {"after_anon", report.gate_anon_after_kib}};
  }
  return j;
}

}  // namespace crigate::bench
