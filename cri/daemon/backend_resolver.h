// The pipeline's view of what the node holds, asked of containerd itself:
// image identities (ImageStatus) and existing containers (ContainerStatus,
// ListContainers, PodSandboxStatus). Every call has a deadline.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cri_subset.grpc.pb.h"
#include "policy/image_resolver.h"

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

 private:
  void Prepare(grpc::ClientContext* ctx) const;

  const std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  const std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  const std::chrono::milliseconds timeout_;

  std::mutex mu_;
  std::optional<CriRuntimeConfig> runtime_config_;  // guarded by mu_
};

}  // namespace crigate::cri
