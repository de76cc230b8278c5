#include "cri/daemon/settings.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string_view>

namespace crigate::cri {
namespace {

// Sections owned by parts that parse them elsewhere; known so that a typo in
// a section name is reported rather than silently ignored.
bool KnownSection(std::string_view name) {
  static const std::set<std::string_view> kOwn = {"server",   "backend", "log",    "monitor",
                                                  "approval", "channel", "metrics"};
  return kOwn.count(name) > 0 || policy::PolicySections().count(name) > 0;
}

// The value at a dotted name as the file writes it; "" when absent.
std::string WrittenValue(const toml::table& root, std::string_view name) {
  const toml::node* node = nullptr;
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) {
    node = root.get(name);
  } else if (const toml::table* section = root.get_as<toml::table>(name.substr(0, dot))) {
    node = section->get(name.substr(dot + 1));
  }
  if (!node) return "";
  std::ostringstream out;
  node->visit([&out](const auto& value) { out << value; });
  return out.str();
}

}  // namespace

const char* const kRestartOnly[] = {"server",
                                    "backend",
                                    "log",
                                    "monitor",
                                    "audit",
                                    "gate",
                                    "node",
                                    "approval.enabled",
                                    "approval.dir",
                                    "approval.ttl_seconds",
                                    "token.enabled",
                                    "token.use_store",
                                    "token.grant_dir",
                                    "token.replay_cache_size",
                                    "cloud.enabled",
                                    "cloud.events_url",
                                    "cloud.ca_file",
                                    "cloud.cert_file",
                                    "cloud.key_file",
                                    "cloud.node_mac",
                                    "cloud.event_queue_size",
                                    "cloud.event_retry_max",
                                    "channel",
                                    "metrics",
                                    nullptr};

std::vector<std::string> RestartOnlyChanges(const Settings& a, const Settings& b) {
  std::vector<std::string> changed;
  for (const auto& [name, value] : a.restart_only) {
    auto it = b.restart_only.find(name);
    if (it == b.restart_only.end() || it->second != value) changed.push_back(name);
  }
  return changed;
}

std::optional<Settings> LoadSettings(const std::string& path, bool must_exist,
                                     std::vector<std::string>& errors) {
  const size_t before = errors.size();
  toml::table root;
  if (must_exist || access(path.c_str(), F_OK) == 0) {
    std::optional<toml::table> loaded = LoadToml(path, &errors);
    if (!loaded) return std::nullopt;
    root = std::move(*loaded);
  }
  for (const auto& [key, value] : root) {
    if (!KnownSection(key.str())) errors.push_back(fmt::format("{}: unknown section", key.str()));
  }
  if (errors.size() != before) return std::nullopt;

  Settings settings;
  settings.path = path;
  settings.must_exist = must_exist;
  for (const char* const* name = kRestartOnly; *name != nullptr; ++name) {
    settings.restart_only[*name] = WrittenValue(root, *name);
  }
  ParseDaemonConfig(root, &settings.daemon, &errors);
  settings.monitor = monitor::ParseMonitorConfig(root, errors);
  settings.policy = policy::ParsePolicyConfig(root, errors);
  settings.approval = ParseApprovalConfig(root, errors);
  settings.metrics = ParseMetricsConfig(root, errors);
  // The channel is addressed by node.id, so it is read once that is known.
  if (settings.policy)
    settings.channel = channel::ParseChannelConfig(root, settings.policy->node_id, errors);
  if (errors.size() == before && settings.channel.enabled &&
      !settings.channel.token_keys_dir.empty()) {
    // A bundle's keys take effect through token.keys, like any other key.
    const auto& keys = settings.policy->token.keys;
    if (std::find(keys.begin(), keys.end(), settings.channel.token_keys_dir) == keys.end()) {
      errors.push_back(fmt::format("channel.token_keys_dir: {} must also be in token.keys",
                                   settings.channel.token_keys_dir));
    }
  }
  if (errors.size() == before && settings.approval.enabled) {
    // Approvals are written for allowed calls only: an ungated RunPodSandbox
    // or StartContainer would reach containerd without one and always fail.
    for (const char* action : {"RunPodSandbox", "StartContainer"}) {
      if (!settings.policy->Gates(action)) {
        errors.push_back(fmt::format("approval.enabled: {} must be in gate.methods", action));
      }
    }
  }
  if (errors.size() != before || !settings.policy) return std::nullopt;
  return settings;
}

}  // namespace crigate::cri
