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

}  // namespace crigate::policy
