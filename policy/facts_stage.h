// The facts stage: a gated call is judged on what containerd holds, never on
// the caller's account of it. It runs right after privilege and looks up, at
// most once per call, what the stages after it judge:
//
//   CreateContainer     the sandbox behind pod_sandbox_id (PodSandboxStatus,
//                       verbose), kept in CallState::sandbox. The request's
//                       own sandbox_config is only a claim: containerd uses
//                       it to name the container and to pass pod annotations
//                       on, but runs the container in the real sandbox's
//                       namespaces. A claim that disagrees with the real
//                       sandbox on metadata (name, namespace, uid, attempt),
//                       kubelet's identity labels (io.kubernetes.pod.*),
//                       host namespaces or privileged is denied, naming the
//                       field. Other labels may change after the pod started
//                       (kubectl label) and containerd does not use them.
//   container-id calls  the container (ContainerStatus verbose) and its
//                       sandbox, kept in CallState::existing_container.
//   anything else       nothing to look up.
//
// Deny codes: INVALID_ARGUMENT (a claim disagrees, or the request names no
// sandbox or container), NOT_FOUND (no such sandbox or container). Error
// (UNAVAILABLE, so deny) when containerd cannot answer.
#pragma once

#include "policy/gate.h"
#include "policy/image_resolver.h"

namespace crigate::policy {

class FactsStage final : public Stage {
 public:
  // resolver must outlive the stage.
  explicit FactsStage(ImageResolver& resolver) : resolver_(resolver) {}

  const char* name() const override { return "facts"; }
  StageResult Check(const GateRequest& request, CallState& state) override;

 private:
  ImageResolver& resolver_;
};

// The first field in which the caller's sandbox config disagrees with the
// real sandbox, as "metadata.namespace is \"default\" in the request but
// \"kube-system\" in containerd"; empty when they agree on every field the
// gate judges.
std::string SandboxClaimMismatch(const PodInfo& claim, const PodInfo& real);

}  // namespace crigate::policy
