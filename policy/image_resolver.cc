#include "policy/image_resolver.h"

#include <fmt/format.h>

namespace crigate::policy {

const ExistingContainer* FindExistingContainer(ImageResolver& resolver, const GateRequest& request,
                                               CallState& state, grpc::Status* error) {
  if (state.existing_container) return &*state.existing_container;
  if (request.container_id.empty()) {
    *error = Fail(grpc::StatusCode::INVALID_ARGUMENT,
                  fmt::format("{} names no container id", request.action));
    return nullptr;
  }
  Result<ExistingContainer> found = resolver.Container(request.container_id);
  if (!found.ok()) {
    *error = found.code() == grpc::StatusCode::NOT_FOUND
                 ? Fail(grpc::StatusCode::NOT_FOUND,
                        fmt::format("container {} does not exist", request.container_id))
                 : Fail(found.code(), fmt::format("cannot look up container {}: {}",
                                                  request.container_id, found.error()));
    return nullptr;
  }
  state.existing_container = std::move(found).value();
  if (state.existing_container->id.empty()) state.existing_container->id = request.container_id;
  return &*state.existing_container;
}

const ExistingSandbox* FindSandbox(ImageResolver& resolver, const GateRequest& request,
                                   CallState& state, grpc::Status* error) {
  if (state.sandbox) return &*state.sandbox;
  if (request.pod_sandbox_id.empty()) {
    *error = Fail(grpc::StatusCode::INVALID_ARGUMENT,
                  fmt::format("{} names no pod_sandbox_id", request.action));
    return nullptr;
  }
  Result<ExistingSandbox> found = resolver.Sandbox(request.pod_sandbox_id);
  if (!found.ok()) {
    *error = found.code() == grpc::StatusCode::NOT_FOUND
                 ? Fail(grpc::StatusCode::NOT_FOUND,
                        fmt::format("pod sandbox {} does not exist", request.pod_sandbox_id))
                 : Fail(found.code(), fmt::format("cannot look up pod sandbox {}: {}",
                                                  request.pod_sandbox_id, found.error()));
    return nullptr;
  }
  state.sandbox = std::move(found).value();
  return &*state.sandbox;
}

}  // namespace crigate::policy
