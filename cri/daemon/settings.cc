#include "cri/daemon/settings.h"

#include <fmt/format.h>
#include <unistd.h>

#include <set>
#include <string_view>

namespace crigate::cri {
namespace {

// Sections owned by parts that parse them elsewhere; known so that a typo in
// a section name is reported rather than silently ignored.
bool KnownSection(std::string_view name) {
  static const std::set<std::string_view> kOwn = {"server", "backend", "log", "monitor",
                                                  "approval"};
  return kOwn.count(name) > 0 || policy::PolicySections().count(name) > 0;
}

}  // namespace

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
  ParseDaemonConfig(root, &settings.daemon, &errors);
  settings.monitor = monitor::ParseMonitorConfig(root, errors);
  settings.policy = policy::ParsePolicyConfig(root, errors);
  settings.approval = ParseApprovalConfig(root, errors);
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
