// The [monitor] section of crigate's configuration: one immutable, validated
// value built at start-up and handed to the Watchdog. A change takes a
// restart (a reload that changes it is refused and says so).
//
//   [monitor]
//   enabled = true                 # false: no sampling, Register/Forget are no-ops
//   interval_ms = 1000             # sampling period, 50..60000
//   samples = 5                    # consecutive samples over a threshold before acting, 1..1000
//   grace_seconds = 10             # StopContainer timeout (SIGTERM -> SIGKILL), 0..3600
//   cooldown_ms = 10000            # after a stop completes, before the next one, 0..3600000
//   resync_interval_ms = 60000     # re-list running containers; 0: only at start, else >= 1000
//   cpu = 0.9                      # per-container thresholds, ratios in [0, 1]; 0 turns one off
//   memory = 0.9
//   pids = 0.9
//   node_cpu = 0.95                # node-wide: the containers' summed CPU / the node's CPUs
//   node_memory = 0.95             # node-wide: the containers' summed working set / MemTotal
//   node_cpu_pressure = 0          # node-wide: the highest "some avg10" of the containers'
//   node_memory_pressure = 0       #   cpu/memory.pressure, as a ratio; 0 off. With node_cpu
//                                  #   (node_memory) also set, both must be over (combined)
//   victim_min_share = 0.05        # a container using less than this share of the
//                                  #   containers' total is never the node-wide victim
//   protected_namespaces = ["kube-system"]        # never stopped
//   protected_labels = ["crigate.io/protected=true"]  # "key=value" or "key" (any value)
//
//   [[monitor.container]]          # per-container overrides, first match wins
//   match_label = "app=historian"  # "key=value" or "key"; required
//   cpu = 0.5                      # any of cpu, memory, pids; others keep the defaults
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crigate::monitor {

// "key=value" matches that label with that value; "key" matches the label
// with any value.
struct LabelMatch {
  std::string key;
  std::string value;
  bool any_value = false;

  static std::optional<LabelMatch> Parse(std::string_view text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

// Ratios above which a sample counts as a breach; 0 turns a check off.
struct Thresholds {
  double cpu = 0.9;
  double memory = 0.9;
  double pids = 0.9;
};

struct ContainerOverride {
  LabelMatch match;
  std::optional<double> cpu;
  std::optional<double> memory;
  std::optional<double> pids;
};

struct MonitorConfig {
  bool enabled = true;
  std::chrono::milliseconds interval{1000};
  int samples = 5;
  int64_t grace_seconds = 10;
  std::chrono::milliseconds cooldown{10000};
  std::chrono::milliseconds resync_interval{60000};
  Thresholds container;
  double node_cpu = 0.95;
  double node_memory = 0.95;
  double node_cpu_pressure = 0;
  double node_memory_pressure = 0;
  double victim_min_share = 0.05;
  std::vector<ContainerOverride> overrides;
  std::vector<std::string> protected_namespaces{"kube-system"};
  std::vector<LabelMatch> protected_labels{{"crigate.io/protected", "true", false}};

  // The thresholds for a container with these labels: the first override
  // whose match_label matches, over the defaults.
  Thresholds ThresholdsFor(const std::map<std::string, std::string>& labels) const;
  // Whether a container in this pod namespace with these labels is never stopped.
  bool IsProtected(const std::string& pod_namespace,
                   const std::map<std::string, std::string>& labels) const;
};

// Reads root["monitor"]. Every key has a default; unknown keys and bad values
// are appended to *errors, each naming its key ("monitor.interval_ms: ...").
// The result is only meant to be used when *errors stayed empty.
MonitorConfig ParseMonitorConfig(const toml::table& root, std::vector<std::string>& errors);

}  // namespace crigate::monitor
