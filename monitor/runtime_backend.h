// The container runtime as the monitor needs it: which containers run, what
// each one is (when it started, where its cgroup is, whose it is), and a way
// to stop one. An interface so that the watchdog is tested with a fake; the
// real one speaks CRI to containerd.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crigate::monitor {

enum class ContainerRunState { kCreated, kRunning, kExited, kUnknown };

struct ContainerFacts {
  std::string id;
  std::string name;  // CRI metadata.name
  // The pod's, from its sandbox's metadata in containerd (PodSandboxStatus),
  // never from kubelet's labels, which any client can set.
  std::string pod_name;
  std::string pod_namespace;
  std::string sandbox_id;  // from the verbose info
  std::map<std::string, std::string> labels;
  ContainerRunState state = ContainerRunState::kUnknown;
  // containerd's started_at (ns since the epoch): survives a crigate restart,
  // so "most recently started" is the same before and after one.
  int64_t started_at_ns = 0;
  int pid = 0;               // init pid from the verbose info; 0 when unknown
  std::string cgroups_path;  // runtimeSpec.linux.cgroupsPath; may be empty
};

// Thread-safe; every call returns within its own deadline.
class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // Ids of the containers in state RUNNING.
  virtual grpc::Status ListRunning(std::vector<std::string>* ids) = 0;
  // Facts about one container (verbose status, for pid and cgroup).
  virtual grpc::Status Status(const std::string& id, ContainerFacts* facts) = 0;
  // StopContainer: SIGTERM, then SIGKILL after `grace_seconds`.
  virtual grpc::Status Stop(const std::string& id, int64_t grace_seconds) = 0;
};

// Takes pid, sandboxID and runtimeSpec.linux.cgroupsPath from the JSON
// containerd puts in ContainerStatusResponse.info["info"]. False when the text is not a JSON
// object; fields that are absent are left as they were.
bool ParseVerboseInfo(std::string_view json, ContainerFacts* facts);

// ContainerRuntime over CRI (runtime.v1) on a channel to containerd's socket
// that the caller owns and passes in.
class CriContainerRuntime final : public ContainerRuntime {
 public:
  // `call_timeout` bounds ListRunning and Status; Stop gets the grace period
  // plus `call_timeout` plus the time containerd needs to kill and reap.
  explicit CriContainerRuntime(std::shared_ptr<grpc::Channel> channel,
                               std::chrono::milliseconds call_timeout = std::chrono::seconds(5));
  ~CriContainerRuntime() override;

  grpc::Status ListRunning(std::vector<std::string>* ids) override;
  grpc::Status Status(const std::string& id, ContainerFacts* facts) override;
  grpc::Status Stop(const std::string& id, int64_t grace_seconds) override;

 private:
  class Stub;  // keeps the generated CRI headers out of this one
  const std::unique_ptr<Stub> stub_;
  const std::chrono::milliseconds call_timeout_;
};

}  // namespace crigate::monitor
