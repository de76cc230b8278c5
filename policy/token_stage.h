// The token stage: does the call carry a valid token for this action, this
// image and this node, not used before?
//
// Where the token is looked for, first found wins (a bad first token is not
// passed over for a later one):
//   1. gRPC metadata "authorization: Bearer <token>" (GateRequest::bearer_token)
//   2. the container config's annotation crigate.io/token (CreateContainer)
//   3. the image spec's annotation (PullImage, RemoveImage, CreateContainer)
//   4. the pod sandbox config's annotation (RunPodSandbox, CreateContainer,
//      PullImage with a sandbox config)
//   5. for container-id calls (StartContainer...), the token the container
//      was created with, which crigate kept (TokenGrants): kubelet sends
//      StartContainer with nothing but the id, and tokens never reach
//      containerd (the front end removes the annotation).
//
// required_for lists the actions that need a token (default RunPodSandbox,
// CreateContainer, StartContainer, PullImage). RemoveImage is not in the
// default because kubelet's image garbage collection removes images with no
// token. A token present on a call that does not require one is still
// verified, and a bad one denies the call.
//
// Replay: a token is accepted once per (jti, action, target), the target
// being what the call acts on as containerd identifies it (one pod sandbox
// per token; containerd's real sandbox id plus the container's name and
// attempt; the container's full id; the image). One pod token thus covers
// RunPodSandbox and each container's CreateContainer and StartContainer
// once, but can never repeat any of them; a container restarted by kubelet
// needs a fresh token. The use is only reserved here: the pipeline makes it
// durable (TokenUseStore) once the call is allowed and audited, so a call
// refused later, or never run, does not use the token up.
//
// Every deny is UNAUTHENTICATED.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "policy/base/time.h"
#include "policy/gate.h"
#include "policy/image_resolver.h"
#include "policy/jws_key.h"
#include "policy/token_grants.h"
#include "policy/token_use_store.h"

namespace crigate::policy {

struct TokenStageOptions {
  std::set<std::string> required_for;
  std::string node_id;
  std::chrono::seconds max_ttl{3600};
  std::chrono::seconds clock_skew{30};
};

class TokenStage final : public Stage {
 public:
  // keys: loaded by the caller (config load); never null. clock and resolver
  // must outlive the stage; resolver may be null (then container-id calls
  // can carry their token only in metadata). uses may be shared with
  // other stages or kept across a rebuild of the pipeline.
  // grants may be null (then container-id calls carry their token only in
  // metadata); it must outlive the stage.
  TokenStage(std::shared_ptr<const KeySet> keys, TokenStageOptions options,
             std::shared_ptr<TokenUseStore> uses, const base::Clock& clock, ImageResolver* resolver,
             const TokenGrants* grants = nullptr);

  const char* name() const override { return "token"; }
  StageResult Check(const GateRequest& request, CallState& state) override;
  const std::shared_ptr<const KeySet>& keys() const { return keys_; }

 private:
  const TokenStageOptions options_;
  const std::shared_ptr<TokenUseStore> uses_;
  const base::Clock& clock_;
  ImageResolver* const resolver_;
  const TokenGrants* const grants_;
  const std::shared_ptr<const KeySet> keys_;  // never null
};

}  // namespace crigate::policy
