// The pipeline's view of what the node holds, asked of containerd itself:
// image identities (ImageStatus) and existing containers (ContainerStatus,
// ListContainers, PodSandboxStatus). Every call has a deadline.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>

#include "cri_subset.grpc.pb.h"
#include "policy/image_resolver.h"

namespace crigate::cri {

class BackendResolver final : public policy::ImageResolver {
 public:
  BackendResolver(std::shared_ptr<grpc::Channel> backend, std::chrono::milliseconds timeout);

  policy::Result<policy::ImageIdentity> Image(const std::string& image) override;
  policy::Result<policy::ExistingContainer> Container(const std::string& container_id) override;
  policy::Result<policy::ExistingSandbox> Sandbox(const std::string& sandbox_id) override;

 private:
  void Prepare(grpc::ClientContext* ctx) const;

  const std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  const std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace crigate::cri
