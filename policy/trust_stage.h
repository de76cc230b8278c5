// The trust stage: is this image (and this use of it) allowed by the trust
// store? Always against what the node holds, never a tag alone: CreateContainer,
// RunPodSandbox (its sandbox image) and container-id calls resolve the image
// through ImageResolver and check the digest the node has.
//
// Deny codes, for callers and for the audit log:
//   PERMISSION_DENIED    no rule matches, or the matched rule refuses (digest
//                        not pinned, namespace, privileged, host namespace,
//                        resource ceiling)
//   FAILED_PRECONDITION  the image is not on the node (CreateContainer,
//                        RunPodSandbox's sandbox image, RemoveImage by id)
//   NOT_FOUND            a container-id call names no existing container
//   INVALID_ARGUMENT     a malformed reference or a request missing its config
// Error (mapped to deny) with UNAVAILABLE when the backend could not answer.
//
// Per action:
//   RunPodSandbox      the sandbox image ([trust] sandbox_image) under the pod's
//                      namespace, privilege and host namespaces. containerd
//                      would pull a missing sandbox image itself, past the
//                      gate, so a missing one is refused.
//   CreateContainer    the request's image as resolved on the node; an image id
//                      (kubelet sends ids) is matched by the names the node
//                      holds for it. Container and pod privilege, host
//                      namespaces and the container's limits.
//   PullImage          the requested reference, before the pull; a pinned
//                      digest is checked before when the reference carries
//                      one, and always after by CheckPulled.
//   RemoveImage        the rule for the image (pins and namespaces do not
//                      apply: removing cannot run anything).
//   StartContainer and other container-id calls
//                      the image the existing container was created from, its
//                      digest on the node and the pod's namespace; Update-
//                      ContainerResources also its new limits. Privilege and
//                      host namespaces were checked at CreateContainer.
//   anything else      no image involved: allowed by this stage.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "policy/gate.h"
#include "policy/image_resolver.h"
#include "policy/trust_store.h"

namespace crigate::policy {

struct TrustStageOptions {
  std::string sandbox_image;  // normalised; what RunPodSandbox is checked against
  // kubelet's root directory: a pod's volumes are host paths below
  // <kubelet_root>/pods/<pod uid>, and any other host path is a hostPath mount.
  std::string kubelet_root = "/var/lib/kubelet";
};

class TrustStage final : public Stage {
 public:
  // store: loaded by the caller (config load); never null. The resolver
  // must outlive the stage.
  TrustStage(std::shared_ptr<const TrustStore> store, TrustStageOptions options,
             ImageResolver& resolver);

  const char* name() const override { return "trust"; }
  StageResult Check(const GateRequest& request, CallState& state) override;

  // For an allowed PullImage once containerd has answered: pulled_image_ref
  // is PullImageResponse.image_ref. Allows when the pulled image satisfies
  // the rule's pinned digests. Contract with the front end: on anything but
  // Allow, the front end removes the pulled image (RemoveImage on
  // pulled_image_ref, straight to the backend) and returns the deny to the
  // caller instead of containerd's answer.
  StageResult CheckPulled(const GateRequest& request, const std::string& pulled_image_ref,
                          CallState& state);

  const std::shared_ptr<const TrustStore>& store() const { return store_; }

 private:
  const TrustStageOptions options_;
  ImageResolver& resolver_;

  const std::shared_ptr<const TrustStore> store_;  // never null
};

}  // namespace crigate::policy
