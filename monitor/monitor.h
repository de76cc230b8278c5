// The monitor as the daemon sees it. The daemon:
//   1. parses the [monitor] section:   ParseMonitorConfig(root, errors)
//   2. builds the watchdog for this host on its channel to containerd:
//        CreateHostWatchdog(config, channel, reporter, warn)  -> Result
//   3. Start()s it (which resyncs with the running containers), calls
//      Register(id) after each successful StartContainer and Forget(id) after
//      each successful StopContainer / RemoveContainer, and Stop()s it (or
//      destroys it) at shutdown.
// Nothing here throws.
#pragma once

#include <grpcpp/channel.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "action_reporter.h"
#include "monitor_config.h"
#include "watchdog.h"

namespace crigate::monitor {

// A Watchdog on this host's cgroups (mode and mounts detected now), the
// /proc node figures, and CRI over `containerd` for status, listing and
// stops. FAILED_PRECONDITION when the monitor is enabled and the host has
// no usable cgroup hierarchy; INTERNAL when the monitor's threads cannot be
// created. `warn` receives operator-facing warnings (stderr when empty).
base::Result<std::unique_ptr<Watchdog>> CreateHostWatchdog(
    const MonitorConfig& config, std::shared_ptr<grpc::Channel> containerd,
    std::shared_ptr<ActionReporter> reporter, std::function<void(std::string_view)> warn);

}  // namespace crigate::monitor
