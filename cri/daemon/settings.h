// Everything crigate's one TOML file holds, read and validated in one piece:
// [server], [backend], [log] (config.h), [monitor] (monitor/), [approval]
// (approval_config.h), [metrics] (metrics_server.h), [channel] (policy/channel/) and the policy
// sections (policy/policy_config.h). A file with any error yields no Settings at all, so nothing
// half-read is ever started or swapped in.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cri/daemon/approval_config.h"
#include "cri/daemon/config.h"
#include "cri/daemon/metrics_server.h"
#include "monitor/monitor_config.h"
#include "policy/channel/channel_config.h"
#include "policy/policy_config.h"

namespace crigate::cri {

struct Settings {
  std::string path;         // the file these came from
  bool must_exist = false;  // as LoadSettings was called: a reload reads the same way
  DaemonConfig daemon;
  monitor::MonitorConfig monitor;
  std::shared_ptr<const policy::PolicyConfig> policy;  // never null in a loaded Settings
  ApprovalConfig approval;
  channel::ChannelConfig channel;
  MetricsConfig metrics;
  // The keys a reload cannot apply (they shape what was built at start:
  // sockets, threads, stores, the watchdog, the event sink), each as written
  // in the file ("" when absent). kRestartOnly lists them.
  std::map<std::string, std::string> restart_only;
};

// Whole sections ("server") and single keys ("token.use_store").
extern const char* const kRestartOnly[];

// The restart-only keys whose values differ between a and b, by name.
std::vector<std::string> RestartOnlyChanges(const Settings& a, const Settings& b);

// Reads path. When must_exist is false a missing file means every default
// (the default path on a fresh node). nullopt with one message per bad key,
// each naming it ("server.socket_mode: ...").
std::optional<Settings> LoadSettings(const std::string& path, bool must_exist,
                                     std::vector<std::string>& errors);

}  // namespace crigate::cri
