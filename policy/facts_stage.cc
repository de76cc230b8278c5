#include "policy/facts_stage.h"

#include <fmt/format.h>

#include "policy/actions.h"

namespace crigate::policy {
namespace {

using Code = grpc::StatusCode;

StageResult LookupFailed(const grpc::Status& status) {
  if (status.error_code() == Code::NOT_FOUND || status.error_code() == Code::INVALID_ARGUMENT) {
    return StageResult::Deny(status.error_code(), status.error_message());
  }
  return StageResult::Error(Code::UNAVAILABLE, status.error_message());
}

const char* ModeName(bool host) { return host ? "NODE (host)" : "not host"; }

std::string Differs(std::string_view field, const std::string& claim, const std::string& real) {
  return fmt::format("{} is \"{}\" in the request but \"{}\" in containerd", field, claim, real);
}

}  // namespace

std::string SandboxClaimMismatch(const PodInfo& claim, const PodInfo& real) {
  if (claim.name != real.name) return Differs("metadata.name", claim.name, real.name);
  if (claim.namespace_ != real.namespace_) {
    return Differs("metadata.namespace", claim.namespace_, real.namespace_);
  }
  if (claim.uid != real.uid) return Differs("metadata.uid", claim.uid, real.uid);
  if (claim.attempt != real.attempt) {
    return fmt::format("metadata.attempt is {} in the request but {} in containerd", claim.attempt,
                       real.attempt);
  }
  const struct {
    const char* field;
    bool claim, real;
  } modes[] = {
      {"linux.security_context.namespace_options.network", claim.host.host_network,
       real.host.host_network},
      {"linux.security_context.namespace_options.pid", claim.host.host_pid, real.host.host_pid},
      {"linux.security_context.namespace_options.ipc", claim.host.host_ipc, real.host.host_ipc},
  };
  for (const auto& m : modes) {
    if (m.claim != m.real) {
      return fmt::format("{} is {} in the request but {} in containerd", m.field, ModeName(m.claim),
                         ModeName(m.real));
    }
  }
  if (claim.privileged != real.privileged) {
    return fmt::format(
        "linux.security_context.privileged is {} in the request but {} in containerd",
        claim.privileged, real.privileged);
  }
  // Only kubelet's identity labels: a pod's other labels may change after it
  // started (kubectl label), and kubelet then sends the new ones, while
  // containerd keeps the old; containerd does not use the request's labels.
  auto identity = [](const std::string& key) { return key.rfind("io.kubernetes.pod.", 0) == 0; };
  for (const auto& [key, value] : real.labels) {
    if (!identity(key)) continue;
    auto it = claim.labels.find(key);
    if (it == claim.labels.end()) {
      return fmt::format("labels[\"{}\"] is missing in the request but \"{}\" in containerd", key,
                         value);
    }
    if (it->second != value) return Differs(fmt::format("labels[\"{}\"]", key), it->second, value);
  }
  for (const auto& [key, value] : claim.labels) {
    if (identity(key) && !real.labels.count(key)) {
      return fmt::format("labels[\"{}\"] is \"{}\" in the request but not set in containerd", key,
                         value);
    }
  }
  return {};
}

StageResult FactsStage::Check(const GateRequest& request, CallState& state) {
  grpc::Status status;
  if (request.action == "CreateContainer") {
    const ExistingSandbox* sandbox = FindSandbox(resolver_, request, state, &status);
    if (!sandbox) return LookupFailed(status);
    if (!request.pod) {
      return StageResult::Deny(Code::INVALID_ARGUMENT,
                               "CreateContainer carries no sandbox_config; containerd names the "
                               "container from it");
    }
    std::string mismatch = SandboxClaimMismatch(*request.pod, sandbox->pod);
    if (!mismatch.empty()) {
      return StageResult::Deny(
          Code::INVALID_ARGUMENT,
          fmt::format("CreateContainer's sandbox_config disagrees with pod sandbox {:.12} as "
                      "containerd holds it: {}",
                      sandbox->id, mismatch));
    }
    return StageResult::Allow(fmt::format("pod sandbox {:.12} is {}/{} as claimed", sandbox->id,
                                          sandbox->pod.namespace_, sandbox->pod.name));
  }
  if (IsContainerIdAction(request.action)) {
    const ExistingContainer* container = FindExistingContainer(resolver_, request, state, &status);
    if (!container) return LookupFailed(status);
    return StageResult::Allow(fmt::format("container {:.12} in pod sandbox {:.12}", container->id,
                                          container->pod_sandbox_id));
  }
  return StageResult::Allow(fmt::format("{} names nothing to look up", request.action));
}

}  // namespace crigate::policy
