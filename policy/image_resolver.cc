#include "policy/image_resolver.h"

#include <fmt/format.h>

#include <functional>
#include <optional>

namespace crigate::policy {
namespace {

// The object a call names (what = "container", "pod sandbox"), looked up once
// per call and kept in *slot.
template <typename T>
const T* FindOnce(std::optional<T>& slot, const std::string& id, const char* what,
                  const char* field, const GateRequest& request,
                  const std::function<Result<T>(const std::string&)>& lookup, base::Status* error) {
  if (slot) return &*slot;
  if (id.empty()) {
    *error =
        Fail(base::Code::INVALID_ARGUMENT, fmt::format("{} names no {}", request.action, field));
    return nullptr;
  }
  Result<T> found = lookup(id);
  if (!found.ok()) {
    *error =
        found.code() == base::Code::NOT_FOUND
            ? Fail(base::Code::NOT_FOUND, fmt::format("{} {} does not exist", what, id))
            : Fail(found.code(), fmt::format("cannot look up {} {}: {}", what, id, found.error()));
    return nullptr;
  }
  slot = std::move(found).value();
  return &*slot;
}

}  // namespace

const ExistingContainer* FindExistingContainer(ImageResolver& resolver, const GateRequest& request,
                                               CallState& state, base::Status* error) {
  const ExistingContainer* found = FindOnce<ExistingContainer>(
      state.existing_container, request.container_id, "container", "container id", request,
      [&](const std::string& id) { return resolver.Container(id); }, error);
  if (found && found->id.empty()) state.existing_container->id = request.container_id;
  return found;
}

const ExistingSandbox* FindSandbox(ImageResolver& resolver, const GateRequest& request,
                                   CallState& state, base::Status* error) {
  return FindOnce<ExistingSandbox>(
      state.sandbox, request.pod_sandbox_id, "pod sandbox", "pod_sandbox_id", request,
      [&](const std::string& id) { return resolver.Sandbox(id); }, error);
}

}  // namespace crigate::policy
