// What the node actually holds, as containerd answers: the trust and token
// stages never trust a tag or a container id on its own. The front end
// implements this over the backend's CRI ImageStatus, ContainerStatus and
// PodSandboxStatus; tests use a fake.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/gate.h"
#include "policy/result.h"

namespace crigate::policy {

// An image on the node, as ImageStatus reports it.
struct ImageIdentity {
  std::string id;                         // "sha256:<hex>", the image id (config digest)
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:1.36"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:<manifest digest>"
  // The user the image's config runs as: a numeric uid, or a name (then uid
  // is unset); both unset when the image names none (it runs as root).
  std::optional<int64_t> uid;
  std::string username;
};

// Thread-safe; called from the pipeline's threads, so each call must return
// within a bounded time (use a deadline on the backend call).
class ImageResolver {
 public:
  virtual ~ImageResolver() = default;

  // ImageStatus for `image`: a normalised name ("docker.io/library/busybox:latest"),
  // a name with a digest, or an image id ("sha256:<hex>").
  // NOT_FOUND when the node does not hold it (ImageStatus answered with no
  // image); any other error when the backend could not answer.
  virtual Result<ImageIdentity> Image(const std::string& image) = 0;

  // ContainerStatus for container_id (image, image_ref -> image_id, labels,
  // annotations), plus its sandbox's namespace and annotations
  // (PodSandboxStatus). NOT_FOUND when no such container exists; any other
  // error when the backend could not answer.
  virtual Result<ExistingContainer> Container(const std::string& container_id) = 0;

  // PodSandboxStatus (verbose) for sandbox_id, which may be a unique prefix
  // as containerd accepts it. NOT_FOUND when no such sandbox exists; any
  // other error when the backend could not answer.
  virtual Result<ExistingSandbox> Sandbox(const std::string& sandbox_id) = 0;
};

// The container a container-id call names, looked up through resolver once
// per call and kept in state.existing_container. On failure returns null and
// sets *error (NOT_FOUND: no such container; otherwise the backend failed).
const ExistingContainer* FindExistingContainer(ImageResolver& resolver, const GateRequest& request,
                                               CallState& state, base::Status* error);

// The real sandbox behind a CreateContainer's pod_sandbox_id, looked up once
// per call and kept in state.sandbox. Same failure contract as above.
const ExistingSandbox* FindSandbox(ImageResolver& resolver, const GateRequest& request,
                                   CallState& state, base::Status* error);

}  // namespace crigate::policy
