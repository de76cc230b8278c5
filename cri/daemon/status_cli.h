// `crigate status [--config PATH] [--json]`: what the running daemon is
// doing, for an operator on the gateway.
//
// It asks crigate's socket grpc.health.v1.Health/Check (live: SERVING only
// while containerd answers and a policy is in force) and reads the status
// file the daemon rewrites every 2 s (server.status_file): version, pid,
// config, containerd, policy and reloads, bundle version, cloud
// authorization, events and channel, watchdog, decisions per stage.
//
// Exit codes: 0 serving; 1 not serving, not running, or its status is
// stale (the daemon may hang); 2 usage or a config that does not load.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace crigate::cri {

// argv[0] is "status".
int RunStatusCli(int argc, char** argv);

// What the socket said to Health/Check: "SERVING", "NOT_SERVING", or why
// there was no answer.
struct HealthAnswer {
  bool serving = false;
  std::string text;
};

// The human form of a status file (null when there is none), as of `now`;
// stale when its written_unix is older than `stale_after`.
std::string RenderStatus(const nlohmann::json& status, const std::string& status_path,
                         const HealthAnswer& health, const std::string& socket,
                         std::chrono::system_clock::time_point now,
                         std::chrono::seconds stale_after, bool* stale);

}  // namespace crigate::cri
