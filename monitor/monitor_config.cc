#include "monitor_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace crigate::monitor {
namespace {

using Errors = std::vector<std::string>;

std::string Describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return fmt::format("\"{}\"", node.as_string()->get());
    case toml::node_type::integer:
      return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
      return fmt::format("{}", node.as_floating_point()->get());
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

std::optional<int64_t> ReadInteger(const toml::node& node, std::string_view key, int64_t min,
                                   int64_t max, Errors& errors) {
  const toml::value<int64_t>* value = node.as_integer();
  if (value == nullptr || value->get() < min || value->get() > max) {
    errors.push_back(fmt::format("{}: expected an integer from {} to {}, got {}", key, min, max,
                                 Describe(node)));
    return std::nullopt;
  }
  return value->get();
}

// A ratio threshold in [0, 1]; integers 0 and 1 are accepted too.
std::optional<double> ReadRatio(const toml::node& node, std::string_view key, Errors& errors) {
  std::optional<double> ratio;
  if (const auto* real = node.as_floating_point()) ratio = real->get();
  if (const auto* integer = node.as_integer()) ratio = static_cast<double>(integer->get());
  if (!ratio || !(*ratio >= 0 && *ratio <= 1)) {
    errors.push_back(fmt::format("{}: expected a ratio from 0 to 1 (0 turns the check off), got {}",
                                 key, Describe(node)));
    return std::nullopt;
  }
  return ratio;
}

std::optional<std::vector<std::string>> ReadStrings(const toml::node& node, std::string_view key,
                                                    Errors& errors) {
  const toml::array* array = node.as_array();
  std::vector<std::string> strings;
  bool ok = array != nullptr;
  if (ok) {
    for (const toml::node& item : *array) {
      const auto* text = item.as_string();
      if (text == nullptr || text->get().empty()) {
        ok = false;
        break;
      }
      strings.push_back(text->get());
    }
  }
  if (!ok) {
    errors.push_back(fmt::format("{}: expected an array of non-empty strings", key));
    return std::nullopt;
  }
  return strings;
}

std::optional<LabelMatch> ReadLabelMatch(const toml::node& node, std::string_view key,
                                         Errors& errors) {
  const auto* text = node.as_string();
  std::optional<LabelMatch> match = text ? LabelMatch::Parse(text->get()) : std::nullopt;
  if (!match) {
    errors.push_back(
        fmt::format("{}: expected \"key=value\" or \"key\", got {}", key, Describe(node)));
  }
  return match;
}

void ParseOverride(const toml::node& node, size_t index, MonitorConfig& config, Errors& errors) {
  std::string prefix = fmt::format("monitor.container[{}]", index);
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    errors.push_back(prefix + ": expected a table ([[monitor.container]])");
    return;
  }
  ContainerOverride entry;
  bool has_match = false;
  for (const auto& [key_node, value] : *table) {
    std::string_view key = key_node.str();
    std::string name = fmt::format("{}.{}", prefix, key);
    if (key == "match_label") {
      if (auto match = ReadLabelMatch(value, name, errors)) {
        entry.match = *match;
        has_match = true;
      }
    } else if (key == "cpu") {
      entry.cpu = ReadRatio(value, name, errors);
    } else if (key == "memory") {
      entry.memory = ReadRatio(value, name, errors);
    } else if (key == "pids") {
      entry.pids = ReadRatio(value, name, errors);
    } else {
      errors.push_back(name + ": unknown key (known: match_label, cpu, memory, pids)");
    }
  }
  if (!has_match) {
    errors.push_back(prefix + ".match_label: required");
    return;
  }
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
  const toml::node* section = root.get("monitor");
  if (section == nullptr) return config;
  const toml::table* table = section->as_table();
  if (table == nullptr) {
    errors.push_back("monitor: expected a table ([monitor])");
    return config;
  }
  using std::chrono::milliseconds;
  for (const auto& [key_node, value] : *table) {
    std::string_view key = key_node.str();
    std::string name = fmt::format("monitor.{}", key);
    if (key == "enabled") {
      if (const auto* flag = value.as_boolean()) {
        config.enabled = flag->get();
      } else {
        errors.push_back(fmt::format("{}: expected true or false, got {}", name, Describe(value)));
      }
    } else if (key == "interval_ms") {
      if (auto ms = ReadInteger(value, name, 50, 60000, errors))
        config.interval = milliseconds(*ms);
    } else if (key == "samples") {
      if (auto n = ReadInteger(value, name, 1, 1000, errors)) config.samples = static_cast<int>(*n);
    } else if (key == "grace_seconds") {
      if (auto s = ReadInteger(value, name, 0, 3600, errors)) config.grace_seconds = *s;
    } else if (key == "cooldown_ms") {
      if (auto ms = ReadInteger(value, name, 0, 3600000, errors))
        config.cooldown = milliseconds(*ms);
    } else if (key == "resync_interval_ms") {
      auto ms = ReadInteger(value, name, 0, 86400000, errors);
      if (ms && *ms != 0 && *ms < 1000) {
        errors.push_back(name + ": expected 0 (only at start) or at least 1000");
      } else if (ms) {
        config.resync_interval = milliseconds(*ms);
      }
    } else if (key == "cpu") {
      if (auto ratio = ReadRatio(value, name, errors)) config.container.cpu = *ratio;
    } else if (key == "memory") {
      if (auto ratio = ReadRatio(value, name, errors)) config.container.memory = *ratio;
    } else if (key == "pids") {
      if (auto ratio = ReadRatio(value, name, errors)) config.container.pids = *ratio;
    } else if (key == "node_cpu") {
      if (auto ratio = ReadRatio(value, name, errors)) config.node_cpu = *ratio;
    } else if (key == "node_memory") {
      if (auto ratio = ReadRatio(value, name, errors)) config.node_memory = *ratio;
    } else if (key == "node_cpu_pressure") {
      if (auto ratio = ReadRatio(value, name, errors)) config.node_cpu_pressure = *ratio;
    } else if (key == "node_memory_pressure") {
      if (auto ratio = ReadRatio(value, name, errors)) config.node_memory_pressure = *ratio;
    } else if (key == "victim_min_share") {
      if (auto ratio = ReadRatio(value, name, errors)) config.victim_min_share = *ratio;
    } else if (key == "protected_namespaces") {
      if (auto names = ReadStrings(value, name, errors)) config.protected_namespaces = *names;
    } else if (key == "protected_labels") {
      if (auto texts = ReadStrings(value, name, errors)) {
        config.protected_labels.clear();
        for (size_t i = 0; i < texts->size(); ++i) {
          std::optional<LabelMatch> match = LabelMatch::Parse((*texts)[i]);
          if (match) {
            config.protected_labels.push_back(*match);
          } else {
            errors.push_back(fmt::format("{}[{}]: expected \"key=value\" or \"key\"", name, i));
          }
        }
      }
    } else if (key == "container") {
      const toml::array* entries = value.as_array();
      if (entries == nullptr) {
        errors.push_back(name + ": expected an array of tables ([[monitor.container]])");
        continue;
      }
      for (size_t i = 0; i < entries->size(); ++i)
        ParseOverride(*entries->get(i), i, config, errors);
    } else {
      errors.push_back(fmt::format(
          "{}: unknown key (known: enabled, interval_ms, samples, grace_seconds, cooldown_ms, "
          "resync_interval_ms, cpu, memory, pids, node_cpu, node_memory, node_cpu_pressure, "
          "node_memory_pressure, victim_min_share, protected_namespaces, protected_labels, "
          "container)",
          name));
    }
  }
  return config;
}

}  // namespace crigate::monitor
