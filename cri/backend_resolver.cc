#include "cri/backend_resolver.h"

#include <fmt/format.h>

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;

grpc::Status BackendFailed(const char* call, const grpc::Status& s) {
  // NOT_FOUND from containerd keeps its meaning; anything else is "could not
  // answer", which the stages treat as an error (fail closed).
  grpc::StatusCode code = s.error_code() == grpc::StatusCode::NOT_FOUND
                              ? grpc::StatusCode::NOT_FOUND
                              : grpc::StatusCode::UNAVAILABLE;
  return grpc::Status(code, fmt::format("containerd {} failed: {}", call, s.error_message()));
}

}  // namespace

BackendResolver::BackendResolver(std::shared_ptr<grpc::Channel> backend,
                                 std::chrono::milliseconds timeout)
    : runtime_(v1::RuntimeService::NewStub(backend)),
      images_(v1::ImageService::NewStub(backend)),
      timeout_(timeout) {}

void BackendResolver::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
}

policy::Result<policy::ImageIdentity> BackendResolver::Image(const std::string& image) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  grpc::Status s = images_->ImageStatus(&ctx, req, &resp);
  if (!s.ok()) return BackendFailed("ImageStatus", s);
  if (!resp.has_image() || resp.image().id().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        fmt::format("image {} is not on this node", image));
  }
  policy::ImageIdentity identity;
  identity.id = resp.image().id();
  identity.repo_tags.assign(resp.image().repo_tags().begin(), resp.image().repo_tags().end());
  identity.repo_digests.assign(resp.image().repo_digests().begin(),
                               resp.image().repo_digests().end());
  return identity;
}

policy::Result<policy::ExistingContainer> BackendResolver::Container(
    const std::string& container_id) {
  policy::ExistingContainer out;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ContainerStatusRequest req;
    req.set_container_id(container_id);
    v1::ContainerStatusResponse resp;
    grpc::Status s = runtime_->ContainerStatus(&ctx, req, &resp);
    if (!s.ok()) return BackendFailed("ContainerStatus", s);
    const auto& st = resp.status();
    out.id = st.id();
    out.image = st.image().image();
    out.labels.insert(st.labels().begin(), st.labels().end());
    out.annotations.insert(st.annotations().begin(), st.annotations().end());
  }
  {
    // ContainerStatus names neither the image id for certain nor the sandbox:
    // ListContainers does (image_ref is the image id in containerd 1.6).
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListContainersRequest req;
    req.mutable_filter()->set_id(out.id);
    v1::ListContainersResponse resp;
    grpc::Status s = runtime_->ListContainers(&ctx, req, &resp);
    if (!s.ok()) return BackendFailed("ListContainers", s);
    if (resp.containers_size() != 1) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          fmt::format("container {} is not on this node", container_id));
    }
    out.pod_sandbox_id = resp.containers(0).pod_sandbox_id();
    out.image_id = resp.containers(0).image_ref();
  }
  if (out.image_id.rfind("sha256:", 0) != 0) {
    auto image = Image(out.image_id.empty() ? out.image : out.image_id);
    if (!image.ok()) return image.status();
    out.image_id = image->id;
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(out.pod_sandbox_id);
    v1::PodSandboxStatusResponse resp;
    grpc::Status s = runtime_->PodSandboxStatus(&ctx, req, &resp);
    if (!s.ok()) return BackendFailed("PodSandboxStatus", s);
    out.pod_namespace = resp.status().metadata().namespace_();
    out.pod_annotations.insert(resp.status().annotations().begin(),
                               resp.status().annotations().end());
  }
  return out;
}

}  // namespace crigate::cri
