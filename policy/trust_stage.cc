#include "policy/trust_stage.h"

#include <fmt/format.h>

#include <algorithm>

#include "policy/base/text.h"
#include "policy/trust_subject.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

}  // namespace

TrustStage::TrustStage(std::shared_ptr<const TrustStore> store, TrustStageOptions options,
                       ImageResolver& resolver)
    : options_(std::move(options)), resolver_(resolver), store_(std::move(store)) {}

StageResult TrustStage::Check(const GateRequest& request, CallState& state) {
  const std::string& action = request.action;
  const std::shared_ptr<const TrustStore>& store = store_;
  TrustSubject s;
  if (auto answer = DescribeCall(request, state, resolver_, options_.sandbox_image, &s)) {
    return *answer;
  }
  if (s.pod && !s.pod->uid.empty() && !options_.kubelet_root.empty()) {
    s.pod_dir = options_.kubelet_root + "/pods/" + s.pod->uid;
  }

  size_t which = 0;
  const TrustRule* rule = store->MatchAny(s.names, action, &which);
  const ImageRef* matched = rule ? &s.names[which] : nullptr;
  if (matched) {
    state.image_ref = matched->String();
  } else if (!s.names.empty()) {
    state.image_ref = s.names.front().String();
  }
  if (s.identity) {
    state.image_digest = ReportedDigest(*s.identity, rule, matched);
    state.image_names = NameStrings(*s.identity);
  } else if (!s.requested_digest.empty()) {
    state.image_digest = s.requested_digest;
  }
  if (!rule) {
    return StageResult::Deny(Code::PERMISSION_DENIED,
                             fmt::format("image {} matches no trust rule for {} (trust store {})",
                                         s.shown, action, store->source()));
  }
  if (std::optional<StageResult> refused = ApplyRule(*rule, s, action)) return *refused;
  std::string pin_note;
  if (action == "PullImage" && !rule->digests.empty() && s.requested_digest.empty()) {
    pin_note = "; pinned digests checked after the pull";
  }
  return StageResult::Allow(fmt::format("rule '{}' allows {}{}{}", rule->name, state.image_ref,
                                        state.image_digest.empty() ? "" : " " + state.image_digest,
                                        pin_note));
}

StageResult TrustStage::CheckPulled(const GateRequest& request, const std::string& pulled_image_ref,
                                    CallState& state) {
  const std::shared_ptr<const TrustStore>& store = store_;
  Result<ImageRef> ref = ParseImageRef(request.image);
  if (!ref.ok()) return StageResult::Deny(Code::INVALID_ARGUMENT, ref.error());
  if (pulled_image_ref.empty()) {
    return StageResult::Deny(
        Code::FAILED_PRECONDITION,
        fmt::format("the pull of {} answered with no image reference", ref->String()));
  }
  Result<ImageIdentity> identity = resolver_.Image(pulled_image_ref);
  if (identity.code() == Code::NOT_FOUND) {
    return StageResult::Deny(
        Code::FAILED_PRECONDITION,
        fmt::format("pulled image {} ({}) is not on the node", ref->String(), pulled_image_ref));
  }
  if (!identity.ok()) {
    return StageResult::Error(Code::UNAVAILABLE,
                              fmt::format("cannot resolve pulled image {} on the node: {}",
                                          pulled_image_ref, identity.error()));
  }

  // The store may have been reloaded since the pull was allowed: match again.
  const TrustRule* rule = store->MatchAny({ref.value()}, "PullImage", nullptr);
  state.image_ref = ref->String();
  state.image_digest = ReportedDigest(*identity, rule, &ref.value());
  state.image_names = NameStrings(*identity);
  if (!rule) {
    return StageResult::Deny(
        Code::PERMISSION_DENIED,
        fmt::format("pulled image {} matches no trust rule for PullImage (trust store {})",
                    ref->String(), store->source()));
  }
  std::vector<std::string> held = DigestsOf(*identity);
  if (!ref->digest.empty() && std::find(held.begin(), held.end(), ref->digest) == held.end()) {
    return StageResult::Deny(Code::PERMISSION_DENIED,
                             fmt::format("pulled image {} is {}, not the requested digest",
                                         ref->String(), base::Join(held)));
  }
  if (!rule->digests.empty() &&
      std::none_of(held.begin(), held.end(), [&](const auto& d) { return rule->Pins(d); })) {
    return StageResult::Deny(
        Code::PERMISSION_DENIED,
        fmt::format("pulled image {} is {}, not a digest pinned by rule '{}' ({})", ref->String(),
                    held.empty() ? "of unknown digest" : base::Join(held), rule->name,
                    base::Join(rule->digests)));
  }
  return StageResult::Allow(
      fmt::format("rule '{}' allows pulled {} {}", rule->name, ref->String(), state.image_digest));
}

}  // namespace crigate::policy
