#include "policy/trust_subject.h"

#include <fmt/format.h>

#include <algorithm>

#include "policy/actions.h"
#include "policy/base/text.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

StageResult Unavailable(const base::Status& status, std::string_view what) {
  return StageResult::Error(
      Code::UNAVAILABLE, fmt::format("cannot resolve {} on the node: {}", what, status.message()));
}

std::string CpuText(int64_t millicores) { return fmt::format("{}m", millicores); }

std::vector<ImageRef> NamesOf(const ImageIdentity& identity) {
  std::vector<ImageRef> names;
  for (const auto* list : {&identity.repo_tags, &identity.repo_digests}) {
    for (const auto& name : *list) {
      Result<ImageRef> ref = ParseImageRef(name);
      if (ref.ok() && !ref->is_id) names.push_back(std::move(ref).value());
    }
  }
  return names;
}

std::optional<StageResult> Parse(const std::string& text, ImageRef* out) {
  Result<ImageRef> ref = ParseImageRef(text);
  if (!ref.ok()) return StageResult::Deny(Code::INVALID_ARGUMENT, ref.error());
  *out = std::move(ref).value();
  return std::nullopt;
}

// ImageStatus into s->identity. OK, NOT_FOUND (identity left empty) or the
// backend's error.
base::Status Resolve(ImageResolver& resolver, const std::string& image, TrustSubject* s) {
  Result<ImageIdentity> identity = resolver.Image(image);
  if (!identity.ok()) return identity.status();
  s->identity = std::move(identity).value();
  return base::Status::OK();
}

// The names rules are matched on: the reference itself, or for an image id
// (kubelet sends ids) the names the node holds for it.
std::optional<StageResult> NamesFor(const ImageRef& ref, TrustSubject* s) {
  if (!ref.is_id) {
    s->names = {ref};
    return std::nullopt;
  }
  s->names = s->identity ? NamesOf(*s->identity) : std::vector<ImageRef>{};
  if (s->names.empty()) {
    return StageResult::Deny(
        Code::PERMISSION_DENIED,
        fmt::format("image {} has no name on the node, so no trust rule can match it", ref.digest));
  }
  return std::nullopt;
}

std::optional<StageResult> DescribeSandbox(const GateRequest& request, ImageResolver& resolver,
                                           const std::string& sandbox_image, TrustSubject* s) {
  if (!request.pod)
    return StageResult::Deny(Code::INVALID_ARGUMENT, "RunPodSandbox carries no pod config");
  ImageRef ref;
  if (auto bad = Parse(sandbox_image, &ref)) return bad;
  base::Status status = Resolve(resolver, ref.String(), s);
  if (status.code() == Code::NOT_FOUND) {
    return StageResult::Deny(
        Code::FAILED_PRECONDITION,
        fmt::format("sandbox image {} is not on the node (containerd would pull it past "
                    "the gate); pull it through the gate first",
                    ref.String()));
  }
  if (!status.ok()) return Unavailable(status, "sandbox image " + ref.String());
  s->names = {ref};
  s->shown = "sandbox " + ref.String();
  s->pod_namespace = request.pod->namespace_;
  s->privileged = request.pod->privileged;
  s->host = request.pod->host;
  s->pod = &*request.pod;
  return std::nullopt;
}

// Privilege and host namespaces of a container in a pod: the container runs
// with the pod's as well as its own.
void Combine(const ContainerInfo& c, const PodInfo& pod, TrustSubject* s) {
  s->pod_namespace = pod.namespace_;
  s->privileged = c.privileged || pod.privileged;
  s->host.host_network = c.host.host_network || pod.host.host_network;
  s->host.host_pid = c.host.host_pid || pod.host.host_pid;
  s->host.host_ipc = c.host.host_ipc || pod.host.host_ipc;
}

std::optional<StageResult> DescribeCreate(const GateRequest& request, CallState& state,
                                          ImageResolver& resolver, TrustSubject* s) {
  if (!request.container) {
    return StageResult::Deny(Code::INVALID_ARGUMENT, "CreateContainer carries no container config");
  }
  // The pod is the real sandbox behind pod_sandbox_id, never the request's
  // sandbox_config (the facts stage has compared the two).
  base::Status looked_up;
  const ExistingSandbox* sandbox = FindSandbox(resolver, request, state, &looked_up);
  if (!sandbox) {
    if (looked_up.code() == Code::NOT_FOUND || looked_up.code() == Code::INVALID_ARGUMENT) {
      return StageResult::Deny(looked_up.code(), looked_up.message());
    }
    return StageResult::Error(Code::UNAVAILABLE, looked_up.message());
  }
  ImageRef ref;
  if (auto bad = Parse(request.image, &ref)) return bad;
  base::Status status = Resolve(resolver, ref.String(), s);
  if (status.code() == Code::NOT_FOUND) {
    return StageResult::Deny(
        Code::FAILED_PRECONDITION,
        fmt::format("image {} is not on the node; pull it through the gate first", ref.String()));
  }
  if (!status.ok()) return Unavailable(status, "image " + ref.String());
  if (auto bad = NamesFor(ref, s)) return bad;
  s->shown = ref.String();
  Combine(*request.container, sandbox->pod, s);
  s->resources = &request.container->resources;
  s->pod = &sandbox->pod;
  s->container = &*request.container;
  return std::nullopt;
}

std::optional<StageResult> DescribePull(const GateRequest& request, TrustSubject* s) {
  ImageRef ref;
  if (auto bad = Parse(request.image, &ref)) return bad;
  if (ref.is_id) {
    return StageResult::Deny(
        Code::INVALID_ARGUMENT,
        fmt::format("PullImage needs an image name, not the id {}", ref.digest));
  }
  s->names = {ref};
  s->shown = ref.String();
  s->requested_digest = ref.digest;
  // Images are node-wide: a namespace applies when the pull names its pod.
  s->check_namespace = request.pod.has_value();
  if (request.pod) s->pod_namespace = request.pod->namespace_;
  return std::nullopt;
}

std::optional<StageResult> DescribeRemove(const GateRequest& request, ImageResolver& resolver,
                                          TrustSubject* s) {
  ImageRef ref;
  if (auto bad = Parse(request.image, &ref)) return bad;
  base::Status status = Resolve(resolver, ref.String(), s);
  if (status.code() == Code::NOT_FOUND && ref.is_id) {
    return StageResult::Deny(
        Code::FAILED_PRECONDITION,
        fmt::format("image {} is not on the node, so no trust rule can match it", ref.digest));
  }
  if (!status.ok() && status.code() != Code::NOT_FOUND) {
    return Unavailable(status, "image " + ref.String());
  }
  if (auto bad = NamesFor(ref, s)) return bad;
  s->shown = ref.String();
  // Removing runs nothing: pins and namespaces do not apply.
  s->check_pins = false;
  s->check_namespace = false;
  return std::nullopt;
}

std::optional<StageResult> DescribeExisting(const GateRequest& request, CallState& state,
                                            ImageResolver& resolver, TrustSubject* s) {
  base::Status status;
  const ExistingContainer* container = FindExistingContainer(resolver, request, state, &status);
  if (!container) {
    if (status.code() == Code::NOT_FOUND || status.code() == Code::INVALID_ARGUMENT) {
      return StageResult::Deny(status.code(), status.message());
    }
    return StageResult::Error(Code::UNAVAILABLE, status.message());
  }
  ImageRef ref;
  if (auto bad = Parse(container->image.empty() ? container->image_id : container->image, &ref)) {
    return bad;
  }
  const std::string runs = container->image_id.empty() ? ref.String() : container->image_id;
  status = Resolve(resolver, runs, s);
  if (status.code() == Code::NOT_FOUND && !container->image_id.empty()) {
    // The image was removed after the container was created: the id it runs
    // is still what the pins are checked against.
    s->identity = ImageIdentity{container->image_id, {}, {}};
  } else if (!status.ok() && status.code() != Code::NOT_FOUND) {
    return Unavailable(status, "image " + runs);
  }
  if (auto bad = NamesFor(ref, s)) return bad;
  s->shown = ref.String();
  // Re-checked on what containerd recorded: a rule may have changed since
  // CreateContainer, or the container may not have been created through the gate.
  if (!container->config || !container->pod) {
    return StageResult::Error(
        Code::UNAVAILABLE,
        fmt::format("containerd did not report the recorded config of container {} or its pod",
                    container->id));
  }
  Combine(*container->config, *container->pod, s);
  s->pod = &*container->pod;
  s->container = &*container->config;
  // New limits are checked here.
  if (request.action == "UpdateContainerResources" && request.container) {
    s->resources = &request.container->resources;
  }
  return std::nullopt;
}

}  // namespace

std::optional<StageResult> DescribeCall(const GateRequest& request, CallState& state,
                                        ImageResolver& resolver, const std::string& sandbox_image,
                                        TrustSubject* out) {
  const std::string& action = request.action;
  if (action == "RunPodSandbox") return DescribeSandbox(request, resolver, sandbox_image, out);
  if (action == "CreateContainer") return DescribeCreate(request, state, resolver, out);
  if (action == "PullImage") return DescribePull(request, out);
  if (action == "RemoveImage") return DescribeRemove(request, resolver, out);
  if (IsContainerIdAction(action)) return DescribeExisting(request, state, resolver, out);
  return StageResult::Allow(fmt::format("{} names no image", action));
}

std::vector<std::string> DigestsOf(const ImageIdentity& identity) {
  std::vector<std::string> digests;
  if (!identity.id.empty()) digests.push_back(identity.id);
  for (const auto& repo_digest : identity.repo_digests) {
    size_t at = repo_digest.find('@');
    if (at != std::string::npos) digests.push_back(repo_digest.substr(at + 1));
  }
  return digests;
}

std::vector<std::string> NameStrings(const ImageIdentity& identity) {
  std::vector<std::string> out;
  for (const auto& ref : NamesOf(identity)) out.push_back(ref.String());
  if (!identity.id.empty()) out.push_back(identity.id);
  return out;
}

std::string ReportedDigest(const ImageIdentity& identity, const TrustRule* rule,
                           const ImageRef* matched) {
  for (const auto& digest : DigestsOf(identity)) {
    if (rule && rule->Pins(digest)) return digest;
  }
  for (const auto& repo_digest : identity.repo_digests) {
    size_t at = repo_digest.find('@');
    if (at == std::string::npos) continue;
    Result<ImageRef> ref = ParseImageRef(repo_digest);
    if (!matched || (ref.ok() && ref->Name() == matched->Name())) return repo_digest.substr(at + 1);
  }
  for (const auto& repo_digest : identity.repo_digests) {
    size_t at = repo_digest.find('@');
    if (at != std::string::npos) return repo_digest.substr(at + 1);
  }
  return identity.id;
}

// The rule's Pod Security Standards level on the pod and the container.
std::optional<std::string> CheckWorkload(const TrustRule& rule, const TrustSubject& s) {
  if (s.container && s.pod) {
    WorkloadContext context;
    context.pod_dir = s.pod_dir;
    context.image = s.identity ? &*s.identity : nullptr;
    return CheckContainerSecurity(rule.workload, *s.container, *s.pod, context);
  }
  if (s.pod) return CheckPodSecurity(rule.workload, *s.pod);
  return std::nullopt;
}

std::optional<StageResult> ApplyRule(const TrustRule& rule, const TrustSubject& s,
                                     std::string_view action) {
  const std::string who = fmt::format("rule '{}'", rule.name);
  if (s.check_pins && !rule.digests.empty()) {
    if (s.identity) {
      std::vector<std::string> held = DigestsOf(*s.identity);
      bool pinned =
          std::any_of(held.begin(), held.end(), [&](const auto& d) { return rule.Pins(d); });
      if (!pinned) {
        return StageResult::Deny(
            Code::PERMISSION_DENIED,
            fmt::format("image {} on the node is {}, not a digest pinned by {} ({})", s.shown,
                        held.empty() ? "of unknown digest" : base::Join(held), who,
                        base::Join(rule.digests)));
      }
    } else if (!s.requested_digest.empty() && !rule.Pins(s.requested_digest)) {
      return StageResult::Deny(
          Code::PERMISSION_DENIED,
          fmt::format("image {} asks for digest {}, not one pinned by {} ({})", s.shown,
                      s.requested_digest, who, base::Join(rule.digests)));
    }
  }
  if (s.check_namespace && !rule.namespaces.empty()) {
    if (!s.pod_namespace) {
      return StageResult::Deny(
          Code::PERMISSION_DENIED,
          fmt::format("{} allows only pod namespaces [{}], and the pod's namespace of this "
                      "{} is unknown",
                      who, base::Join(rule.namespaces), action));
    }
    if (!rule.AllowsNamespace(*s.pod_namespace)) {
      return StageResult::Deny(
          Code::PERMISSION_DENIED,
          fmt::format("{} does not allow image {} in pod namespace '{}' (allowed: {})", who,
                      s.shown, *s.pod_namespace, base::Join(rule.namespaces)));
    }
  }
  if (s.privileged && !rule.allow_privileged) {
    return StageResult::Deny(
        Code::PERMISSION_DENIED,
        fmt::format("{} does not allow privileged containers (image {})", who, s.shown));
  }
  struct HostCheck {
    bool asked, allowed;
    const char* what;
  };
  for (const HostCheck& h : {HostCheck{s.host.host_network, rule.allow_host_network, "network"},
                             HostCheck{s.host.host_pid, rule.allow_host_pid, "PID"},
                             HostCheck{s.host.host_ipc, rule.allow_host_ipc, "IPC"}}) {
    if (h.asked && !h.allowed) {
      return StageResult::Deny(
          Code::PERMISSION_DENIED,
          fmt::format("{} does not allow the host {} namespace (image {})", who, h.what, s.shown));
    }
  }
  if (std::optional<std::string> violation = CheckWorkload(rule, s)) {
    return StageResult::Deny(Code::PERMISSION_DENIED, fmt::format("{} ({})", *violation, who));
  }
  if (s.resources) {
    const Resources& r = *s.resources;
    if (rule.max_cpu_millicores) {
      if (r.cpu_quota <= 0 || r.cpu_period <= 0) {
        return StageResult::Deny(
            Code::PERMISSION_DENIED,
            fmt::format("{} caps the CPU limit at {}, and the container sets none", who,
                        CpuText(*rule.max_cpu_millicores)));
      }
      // Rounded up: a limit of 500.4m is over a 500m ceiling.
      int64_t millicores = (r.cpu_quota * 1000 + r.cpu_period - 1) / r.cpu_period;
      if (millicores > *rule.max_cpu_millicores) {
        return StageResult::Deny(
            Code::PERMISSION_DENIED,
            fmt::format("CPU limit {} (quota {} / period {}) is over {}'s ceiling of {}",
                        CpuText(millicores), r.cpu_quota, r.cpu_period, who,
                        CpuText(*rule.max_cpu_millicores)));
      }
    }
    if (rule.max_memory_bytes) {
      if (r.memory_limit_bytes <= 0) {
        return StageResult::Deny(
            Code::PERMISSION_DENIED,
            fmt::format("{} caps the memory limit at {} bytes, and the container sets none", who,
                        *rule.max_memory_bytes));
      }
      if (r.memory_limit_bytes > *rule.max_memory_bytes) {
        return StageResult::Deny(
            Code::PERMISSION_DENIED,
            fmt::format("memory limit {} bytes is over {}'s ceiling of {} bytes",
                        r.memory_limit_bytes, who, *rule.max_memory_bytes));
      }
    }
  }
  return std::nullopt;
}

}  // namespace crigate::policy
