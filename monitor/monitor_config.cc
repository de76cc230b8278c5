#include "monitor_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "policy/base/toml_fields.h"

namespace crigate::monitor {
namespace {

// "key=value" or "key" items of fields.key into *out.
void LabelMatches(base::TomlFields& fields, std::string_view key, std::vector<LabelMatch>& out) {
  std::vector<std::string> texts;
  fields.StringList(key, texts);
  if (!fields.Has(key)) return;
  std::vector<LabelMatch> matches;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (std::optional<LabelMatch> match = LabelMatch::Parse(texts[i])) {
      matches.push_back(*match);
    } else {
      fields.Error(fmt::format("{}[{}]", key, i), "must be \"key=value\" or \"key\"");
    }
  }
  out = std::move(matches);
}

void ParseOverride(const toml::node& node, size_t index, MonitorConfig& config,
                   std::vector<std::string>& errors) {
  const std::string prefix = fmt::format("monitor.container[{}]", index);
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    errors.push_back(prefix + ": must be a table ([[monitor.container]])");
    return;
  }
  base::TomlFields f(table, prefix, errors);
  f.RejectUnknown({"match_label", "cpu", "memory", "pids"});
  ContainerOverride entry;
  std::string label;
  f.String("match_label", label);
  std::optional<LabelMatch> match = LabelMatch::Parse(label);
  if (!f.Has("match_label")) {
    f.Error("match_label", "required");
  } else if (!label.empty() && !match) {
    f.Error("match_label", "must be \"key=value\" or \"key\"");
  }
  for (auto [key, out] : {std::pair{"cpu", &entry.cpu}, std::pair{"memory", &entry.memory},
                          std::pair{"pids", &entry.pids}}) {
    if (!f.Has(key)) continue;
    double ratio = -1;
    f.Ratio(key, ratio);
    if (ratio >= 0) *out = ratio;
  }
  if (!match) return;
  entry.match = *match;
  config.overrides.push_back(std::move(entry));
}

}  // namespace

std::optional<LabelMatch> LabelMatch::Parse(std::string_view text) {
  size_t equals = text.find('=');
  LabelMatch match;
  match.key = std::string(text.substr(0, equals));
  if (match.key.empty()) return std::nullopt;
  if (equals == std::string_view::npos) {
    match.any_value = true;
  } else {
    match.value = std::string(text.substr(equals + 1));
  }
  return match;
}

bool LabelMatch::Matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  return it != labels.end() && (any_value || it->second == value);
}

Thresholds MonitorConfig::ThresholdsFor(const std::map<std::string, std::string>& labels) const {
  Thresholds thresholds = container;
  for (const ContainerOverride& entry : overrides) {
    if (!entry.match.Matches(labels)) continue;
    thresholds.cpu = entry.cpu.value_or(thresholds.cpu);
    thresholds.memory = entry.memory.value_or(thresholds.memory);
    thresholds.pids = entry.pids.value_or(thresholds.pids);
    break;
  }
  return thresholds;
}

bool MonitorConfig::IsProtected(const std::string& pod_namespace,
                                const std::map<std::string, std::string>& labels) const {
  if (!pod_namespace.empty() && std::find(protected_namespaces.begin(), protected_namespaces.end(),
                                          pod_namespace) != protected_namespaces.end()) {
    return true;
  }
  return std::any_of(protected_labels.begin(), protected_labels.end(),
                     [&](const LabelMatch& match) { return match.Matches(labels); });
}

MonitorConfig ParseMonitorConfig(const toml::table& root, std::vector<std::string>& errors) {
  MonitorConfig config;
  const toml::table* table = base::SectionOf(root, "monitor", errors);
  if (table == nullptr) return config;
  base::TomlFields f(table, "monitor", errors);
  f.RejectUnknown({"enabled", "interval_ms", "samples", "grace_seconds", "cooldown_ms",
                   "resync_interval_ms", "cpu", "memory", "pids", "node_cpu", "node_memory",
                   "node_cpu_pressure", "node_memory_pressure", "victim_min_share",
                   "protected_namespaces", "protected_labels", "container"});
  f.Bool("enabled", config.enabled);
  f.Millis("interval_ms", 50, 60000, config.interval);
  f.Int("samples", 1, 1000, config.samples);
  f.Int("grace_seconds", int64_t{0}, int64_t{3600}, config.grace_seconds);
  f.Millis("cooldown_ms", 0, 3600000, config.cooldown);
  const size_t before_resync = errors.size();
  std::chrono::milliseconds resync = config.resync_interval;
  f.Millis("resync_interval_ms", 0, 86400000, resync);
  if (errors.size() == before_resync && resync.count() != 0 && resync.count() < 1000) {
    f.Error("resync_interval_ms", "must be 0 (only at start) or at least 1000");
  } else {
    config.resync_interval = resync;
  }
  f.Ratio("cpu", config.container.cpu);
  f.Ratio("memory", config.container.memory);
  f.Ratio("pids", config.container.pids);
  f.Ratio("node_cpu", config.node_cpu);
  f.Ratio("node_memory", config.node_memory);
  f.Ratio("node_cpu_pressure", config.node_cpu_pressure);
  f.Ratio("node_memory_pressure", config.node_memory_pressure);
  f.Ratio("victim_min_share", config.victim_min_share);
  f.StringList("protected_namespaces", config.protected_namespaces);
  LabelMatches(f, "protected_labels", config.protected_labels);
  if (const toml::node* node = f.Get("container")) {
    const toml::array* entries = node->as_array();
    if (entries == nullptr) {
      f.Error("container", "must be an array of tables ([[monitor.container]])");
    } else {
      for (size_t i = 0; i < entries->size(); ++i)
        ParseOverride(*entries->get(i), i, config, errors);
    }
  }
  return config;
}

}  // namespace crigate::monitor
