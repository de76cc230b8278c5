#include "policy/facts_stage.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "policy/actions.h"
#include "policy/workload_profile.h"
#include "shim/runtime_spec.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

StageResult LookupFailed(const base::Status& status) {
  if (status.code() == Code::NOT_FOUND || status.code() == Code::INVALID_ARGUMENT) {
    return StageResult::Deny(status.code(), status.message());
  }
  return StageResult::Error(Code::UNAVAILABLE, status.message());
}

const char* ModeName(bool host) { return host ? "NODE (host)" : "not host"; }

std::string Differs(std::string_view field, const std::string& claim, const std::string& real) {
  return fmt::format("{} is \"{}\" in the request but \"{}\" in containerd", field, claim, real);
}

// What the runtime spec of `c` may hold, given the recorded config that the
// stages judge: the spec must not reach further than that config does.
shim::ShapeRules ContainerShape(const ExistingContainer& c) {
  shim::ShapeRules rules;
  const ContainerInfo& config = *c.config;
  // containerd runs command + args when the config names a command; with
  // only args or neither, the image's entrypoint comes first, which the
  // digest binds but the config cannot predict.
  if (!config.command.empty()) {
    rules.check_args = true;
    rules.args = config.command;
    rules.args.insert(rules.args.end(), config.args.begin(), config.args.end());
  }
  if (config.host.host_network) rules.host_namespaces.insert("network");
  if (config.host.host_pid) rules.host_namespaces.insert("pid");
  if (config.host.host_ipc) {
    rules.host_namespaces.insert("ipc");
    rules.bind_sources.insert("/dev/shm");  // the host's, shared as the pod's
  }
  if (c.sandbox_pid > 0) rules.namespace_path_prefix = fmt::format("/proc/{}/ns/", c.sandbox_pid);
  rules.privileged = config.privileged;
  for (const std::string& cap : config.added_capabilities) {
    const std::string name = CapabilityName(cap);  // "SYS_TIME", "ALL"
    rules.extra_capabilities.insert(name == "ALL" ? name : "CAP_" + name);
  }
  for (const MountRequest& m : config.security.mounts) {
    rules.bind_sources.insert(m.host_path);
    rules.bind_sources.insert(ResolveHostPath(m.host_path));
  }
  for (const DeviceRequest& d : config.security.devices)
    rules.device_paths.insert(d.container_path);
  for (const std::string& dir : c.cri_dirs) {
    rules.bind_prefixes.push_back(dir + "/sandboxes/" + c.pod_sandbox_id + "/");
    rules.bind_prefixes.push_back(dir + "/containers/" + c.id + "/");
  }
  return rules;
}

// Judges the spec containerd generated for a container about to start, and
// keeps its digest for the shim's approval.
StageResult JudgeRuntimeSpec(const ExistingContainer& c, CallState& state) {
  if (c.runtime_spec.empty()) {
    return StageResult::Allow(
        fmt::format("container {:.12} in pod sandbox {:.12}", c.id, c.pod_sandbox_id));
  }
  if (!c.config) {
    return StageResult::Deny(Code::FAILED_PRECONDITION,
                             fmt::format("containerd reports no recorded config for container "
                                         "{:.12}, so its runtime spec cannot be judged",
                                         c.id));
  }
  nlohmann::json spec;
  if (base::Status s = shim::ParseRuntimeSpec(c.runtime_spec, &spec); !s.ok()) {
    return StageResult::Error(Code::UNAVAILABLE, "containerd's runtime spec for container " +
                                                     c.id.substr(0, 12) + ": " + s.message());
  }
  const std::string mismatch = shim::CheckSpecShape(spec, ContainerShape(c));
  if (!mismatch.empty()) {
    return StageResult::Deny(
        Code::PERMISSION_DENIED,
        fmt::format("container {:.12}'s runtime spec, as containerd holds it, goes beyond its "
                    "CRI config: {}",
                    c.id, mismatch));
  }
  state.spec_digest = shim::SpecDigest(spec, c.id);
  if (state.spec_digest.empty()) {
    return StageResult::Error(Code::INTERNAL, "SHA-256 of the runtime spec failed");
  }
  return StageResult::Allow(
      fmt::format("container {:.12} in pod sandbox {:.12}, runtime spec {:.19}", c.id,
                  c.pod_sandbox_id, state.spec_digest));
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
  base::Status status;
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
    if (request.action == "StartContainer") return JudgeRuntimeSpec(*container, state);
    return StageResult::Allow(fmt::format("container {:.12} in pod sandbox {:.12}", container->id,
                                          container->pod_sandbox_id));
  }
  return StageResult::Allow(fmt::format("{} names nothing to look up", request.action));
}

}  // namespace crigate::policy
