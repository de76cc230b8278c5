#include "monitor.h"

#include <system_error>

#include "host_cgroup_opener.h"
#include "node_reader.h"
#include "runtime_backend.h"

namespace crigate::monitor {

base::Result<std::unique_ptr<Watchdog>> CreateHostWatchdog(
    const MonitorConfig& config, std::shared_ptr<grpc::Channel> containerd,
    std::shared_ptr<ActionReporter> reporter, std::function<void(std::string_view)> warn) {
  std::shared_ptr<HostCgroupOpener> cgroups = HostCgroupOpener::ForThisHost();
  // A disabled monitor never samples: no reason to refuse a host without cgroups.
  if (config.enabled) {
    const CgroupMounts& mounts = cgroups->mounts();
    bool usable = false;
    switch (cgroups->mode()) {
      case CgroupMode::kUnified:
        usable = mounts.V2() != nullptr;
        break;
      case CgroupMode::kHybrid:
      case CgroupMode::kLegacy:
        usable = mounts.V1("cpuacct") != nullptr || mounts.V1("memory") != nullptr;
        break;
      case CgroupMode::kUnavailable:
        break;
    }
    if (!usable) {
      return base::Status(
          base::Code::FAILED_PRECONDITION,
          std::string("no usable cgroup hierarchy (mode ") + CgroupModeName(cgroups->mode()) + ")");
    }
  }
  Watchdog::Dependencies dependencies;
  dependencies.runtime = std::make_shared<CriContainerRuntime>(std::move(containerd));
  dependencies.cgroups = std::move(cgroups);
  dependencies.node = std::make_unique<ProcNodeReader>();
  dependencies.reporter = std::move(reporter);
  dependencies.warn = std::move(warn);
  try {
    return std::make_unique<Watchdog>(config, std::move(dependencies));
  } catch (const std::system_error& failure) {  // its task queues' threads
    return base::Status::Internal(std::string("cannot start the monitor's threads: ") +
                                  failure.what());
  }
}

}  // namespace crigate::monitor
