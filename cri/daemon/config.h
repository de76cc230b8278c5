// The daemon's own configuration: the [server], [backend] and [log] sections
// of crigate's TOML file. Other sections belong to the parts that
// use them (policy/, monitor/) and are parsed there; main.cc checks that no
// section is unknown.
//
// Every key has a default, so an empty file is a valid config. Every error
// names its key ("server.socket_mode: ..."), so a broken config is fixed from
// the message alone.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cri/log.h"
#include "cri/unix_listener.h"

namespace crigate::cri {

inline constexpr char kDefaultConfigPath[] = "/etc/crigate/config.toml";

// What serves the CRI socket: the event loop terminating HTTP/2 itself
// (cri/relay_gate.h), or the grpc++ generic proxy it replaced (cri/proxy.h),
// kept for one release as a way back.
enum class FrontEnd { kRelay, kGrpc };

struct DaemonConfig {
  FrontEnd front_end = FrontEnd::kRelay;
  SocketOptions socket{"/run/crigate/crigate.sock", 0660};
  std::string backend_endpoint = "unix:///run/containerd/containerd.sock";
  int drain_timeout_ms = 10000;  // how long in-flight calls get at shutdown
  int decision_threads = 4;      // threads that run pipeline decisions
  // containerd's own limit: a larger request would be allowed, audited and
  // its token used up, only for containerd to refuse it.
  int max_message_bytes = 16 << 20;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  // Where the daemon keeps its state for `crigate status`, rewritten every
  // few seconds. Empty: status.json beside the socket (StatusFileOf).
  std::string status_file;
};

// The status file a config names: server.status_file, or status.json in
// the socket's directory.
std::string StatusFileOf(const DaemonConfig& config);

// Reads and parses a TOML file; nullopt with "path:line:col: ..." in errors.
std::optional<toml::table> LoadToml(const std::string& path, std::vector<std::string>* errors);

// Fills *out from root; returns false with one message per bad key.
bool ParseDaemonConfig(const toml::table& root, DaemonConfig* out,
                       std::vector<std::string>* errors);

}  // namespace crigate::cri
