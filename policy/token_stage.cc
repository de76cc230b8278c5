#include "policy/token_stage.h"

#include <fmt/format.h>

#include "policy/actions.h"
#include "policy/image_ref.h"
#include "policy/token.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

struct Found {
  std::string token;
  std::string where;  // for reasons: "pod annotation crigate.io/token"
};

bool FromMap(const std::map<std::string, std::string>& annotations, const char* where, Found* out) {
  auto it = annotations.find(kTokenAnnotation);
  if (it == annotations.end()) return false;
  *out = {it->second, fmt::format("{} annotation {}", where, kTokenAnnotation)};
  return true;
}

// What the call acts on, so that a token is accepted once per use; always
// an identity containerd chose or will derive, never one the caller picks. A
// token starts one pod sandbox, whatever uid or name the caller gives it.
// Within a pod it covers each container (containerd's real sandbox id, the
// container's name and attempt: what containerd names the container by)
// once.
std::string ReplayTarget(const GateRequest& r, const CallState& state) {
  if (r.action == "RunPodSandbox") return "pod";
  if (r.action == "CreateContainer") {
    const std::string sandbox =
        state.sandbox ? state.sandbox->id : "unresolved:" + r.pod_sandbox_id;
    return fmt::format("container:{}/{}/{}", sandbox, r.container ? r.container->name : "",
                       r.container ? r.container->attempt : 0);
  }
  if (IsImageAction(r.action)) {
    return "image:" + (state.image_ref.empty() ? NormaliseOrKeep(r.image) : state.image_ref);
  }
  if (state.existing_container) return "container-id:" + state.existing_container->id;
  if (!r.container_id.empty()) return "container-id:" + r.container_id;
  if (!r.pod_sandbox_id.empty()) return "pod-id:" + r.pod_sandbox_id;
  return "-";
}

// One token use, reserved in the store while the call is decided.
class TokenUse final : public PendingUse {
 public:
  TokenUse(std::shared_ptr<TokenUseStore> store, std::string key, std::string what)
      : store_(std::move(store)), key_(std::move(key)), what_(std::move(what)) {}
  base::Status Commit() override { return store_->Commit(key_); }
  base::Status Release() override { return store_->Release(key_); }
  std::string Describe() const override { return what_; }

 private:
  const std::shared_ptr<TokenUseStore> store_;
  const std::string key_;
  const std::string what_;
};

StageResult Deny(std::string reason) {
  return StageResult::Deny(Code::UNAUTHENTICATED, std::move(reason));
}

}  // namespace

TokenStage::TokenStage(std::shared_ptr<const KeySet> keys, TokenStageOptions options,
                       std::shared_ptr<TokenUseStore> uses, const base::Clock& clock,
                       ImageResolver* resolver, const TokenGrants* grants)
    : options_(std::move(options)),
      uses_(std::move(uses)),
      clock_(clock),
      resolver_(resolver),
      grants_(grants),
      keys_(std::move(keys)) {}

StageResult TokenStage::Check(const GateRequest& request, CallState& state) {
  const std::string& action = request.action;
  const bool required = options_.required_for.count(action) > 0;

  Found found;
  bool have = false;
  base::Status lookup;  // why the existing container could not be read, if it was needed
  if (!request.bearer_token.empty()) {
    found = {request.bearer_token, "authorization metadata"};
    have = true;
  }
  have =
      have || (request.container && FromMap(request.container->annotations, "container", &found));
  have = have || FromMap(request.image_annotations, "image", &found);
  have = have || (request.pod && FromMap(request.pod->annotations, "pod", &found));
  const ExistingContainer* existing = nullptr;
  if (IsContainerIdAction(action) && resolver_) {
    existing = FindExistingContainer(*resolver_, request, state, &lookup);
    if (!have && existing && grants_) {
      if (std::optional<std::string> kept = grants_->Find(existing->id)) {
        found = {*kept, "the token container " + existing->id.substr(0, 12) + " was created with"};
        have = true;
      }
    }
  }
  if (!have) {
    if (!required) return StageResult::Allow(fmt::format("no token; none required for {}", action));
    std::string why = lookup.ok() ? "" : fmt::format(" ({})", lookup.message());
    return Deny(
        fmt::format("{} requires a token (annotation {} or authorization: Bearer) and none "
                    "was given{}",
                    action, kTokenAnnotation, why));
  }

  TokenCheck check;
  check.now = clock_.Now();
  check.clock_skew = options_.clock_skew;
  check.max_ttl = options_.max_ttl;
  check.node = options_.node_id;
  Result<VerifiedToken> verified = VerifyToken(found.token, *keys_, check);
  if (!verified.ok()) return Deny(fmt::format("{} (from {})", verified.error(), found.where));
  const TokenClaims& claims = verified->claims;

  if (base::Status s = CheckTokenAction(claims, action); !s.ok()) return Deny(s.message());

  // Bind the image when the call names one: the request's, or the image the
  // existing container was created from.
  std::vector<std::string> images = {state.image_ref, state.image_digest};
  images.insert(images.end(), state.image_names.begin(), state.image_names.end());
  std::string shown = state.image_ref;
  bool names_image = false;
  if (IsImageAction(action)) {
    names_image = true;
    images.push_back(request.image);
    if (shown.empty()) shown = NormaliseOrKeep(request.image);
  } else if (IsContainerIdAction(action)) {
    names_image = true;
    if (existing) {
      images.push_back(existing->image);
      images.push_back(existing->image_id);
      if (shown.empty()) shown = NormaliseOrKeep(existing->image);
    } else if (shown.empty()) {
      return Deny(fmt::format("cannot bind the token's img: the image of container {} is unknown{}",
                              request.container_id,
                              lookup.ok() ? "" : " (" + lookup.message() + ")"));
    }
  }
  if (names_image) {
    if (base::Status s = CheckTokenImage(claims, images, shown); !s.ok()) {
      return Deny(s.message());
    }
  }

  if (action == "CreateContainer" && resolver_) {
    // The use is bound to the real sandbox, whatever id prefix the caller sent.
    base::Status looked_up;
    if (!FindSandbox(*resolver_, request, state, &looked_up)) {
      return Deny(
          fmt::format("cannot bind the token's use to a pod sandbox: {}", looked_up.message()));
    }
  }
  const std::string target = ReplayTarget(request, state);
  const std::string key = claims.jti + "\n" + action + "\n" + target;
  const base::WallTime expires = base::FromUnixSeconds(claims.exp) + options_.clock_skew;
  switch (uses_->Reserve(key, expires, check.now)) {
    case TokenUseStore::Outcome::kReserved:
      break;
    case TokenUseStore::Outcome::kReplayed:
      return Deny(
          fmt::format("token jti '{}' was already used for {} on {}", claims.jti, action, target));
    case TokenUseStore::Outcome::kFull:
      return Deny(
          fmt::format("token jti '{}' refused: the token-use store is full ({} unexpired "
                      "uses); raise token.replay_cache_size or wait for tokens to expire",
                      claims.jti, uses_->capacity()));
  }
  state.pending_uses.push_back(std::make_shared<TokenUse>(
      uses_, key,
      fmt::format("the use of token jti '{}' for {} on {}", claims.jti, action, target)));
  state.token_subject = claims.sub;
  state.token_id = claims.jti;
  state.token_claims_json = verified->claims_json;
  if (action == "CreateContainer") state.token = found.token;
  return StageResult::Allow(fmt::format("token jti '{}' of '{}' verified with key {} (from {})",
                                        claims.jti, claims.sub, verified->kid, found.where));
}

}  // namespace crigate::policy
