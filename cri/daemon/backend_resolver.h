// The pipeline's view of what the node holds, asked of containerd itself:
// image identities (ImageStatus) and existing containers (ContainerStatus,
// ListContainers, PodSandboxStatus). Every call has a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policy/image_resolver.h"

namespace grpc {
class Channel;
class ClientContext;
class Status;
}  // namespace grpc

namespace crigate::cri {

// What containerd's CRI plugin is configured with (Status, verbose).
struct CriRuntimeConfig {
  std::string sandbox_image;  // the pause image every pod sandbox runs
  std::string root_dir;       // e.g. /var/lib/containerd/io.containerd.grpc.v1.cri
  std::string state_dir;      // e.g. /run/containerd/io.containerd.grpc.v1.cri
};

class BackendResolver final : public policy::ImageResolver {
 public:
  BackendResolver(const std::shared_ptr<grpc::Channel>& backend, std::chrono::milliseconds timeout);
  ~BackendResolver() override;

  policy::Result<policy::ImageIdentity> Image(const std::string& image) override;
  policy::Result<policy::ExistingContainer> Container(const std::string& container_id) override;
  policy::Result<policy::ExistingSandbox> Sandbox(const std::string& sandbox_id) override;

  // Asked once, then kept.
  policy::Result<CriRuntimeConfig> RuntimeConfig();
  // What containerd runs for an image with no command of its own:
  // Entrypoint followed by Cmd from its config (ImageStatus, verbose).
  policy::Result<std::vector<std::string>> ImageCommand(const std::string& image);
  // Has containerd pull `image` (its registry config and credentials apply),
  // within `timeout`. For the sandbox image, which containerd would pull
  // inside RunPodSandbox anyway.
  base::Status PullImage(const std::string& image, std::chrono::milliseconds timeout);
  // Whether containerd answers now: one Version call within `timeout`, not
  // retried. Its runtime name and version ("containerd 1.6.20"), or why not.
  policy::Result<std::string> Answers(std::chrono::milliseconds timeout);

 private:
  // Runs one read-only call with the lookup deadline, once more if it
  // failed UNAVAILABLE; method names it in the metrics.
  grpc::Status Lookup(const char* method,
                      const std::function<grpc::Status(grpc::ClientContext*)>& call) const;

  // containerd's RuntimeService and ImageService stubs. Out of line: the
  // generated gRPC header costs 2.6 s to parse, and only backend_resolver.cc
  // needs it.
  struct Stubs;
  const std::unique_ptr<Stubs> stubs_;
  const std::chrono::milliseconds timeout_;

  std::mutex mu_;
  std::optional<CriRuntimeConfig> runtime_config_;  // guarded by mu_
};

}  // namespace crigate::cri
