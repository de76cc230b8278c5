#include "policy/cloud/cloud_stage.h"

#include <fmt/format.h>

namespace crigate::cloud {

using Code = base::Code;
using policy::StageResult;

CloudStage::CloudStage(CloudStageOptions options, std::shared_ptr<Authorizer> authorizer,
                       const base::Clock& clock)
    : options_(std::move(options)),
      authorizer_(std::move(authorizer)),
      cache_(options_.cache_ttl, options_.cache_size, clock) {}

StageResult CloudStage::Check(const policy::GateRequest& request, policy::CallState& state) {
  try {
    const AuthzInput input = BuildAuthzInput(request, state, options_.node);
    const std::string key = input.CacheKey();
    if (std::optional<std::string> id = cache_.Find(key)) {
      cached_.fetch_add(1);
      return StageResult::Allow(
          fmt::format("cloud allowed (cached decision {})", id->empty() ? "without id" : *id));
    }

    AuthzAnswer answer = authorizer_->Check(input);
    if (!answer.decision_id.empty()) state.decision_id = answer.decision_id;
    switch (answer.outcome) {
      case AuthzAnswer::Outcome::kAllowed:
        allowed_.fetch_add(1);
        cache_.Insert(key, answer.decision_id);
        return StageResult::Allow(answer.reason.empty() ? "cloud allowed"
                                                        : "cloud allowed: " + answer.reason);
      case AuthzAnswer::Outcome::kDenied:
        denied_.fetch_add(1);
        return StageResult::Deny(Code::PERMISSION_DENIED, "cloud denied: " + answer.reason);
      case AuthzAnswer::Outcome::kError:
        break;
    }
    errors_.fetch_add(1);
    return StageResult::Error(Code::UNAVAILABLE, "cloud unreachable: " + answer.reason);
  } catch (const std::exception& e) {
    errors_.fetch_add(1);
    return StageResult::Error(Code::INTERNAL, fmt::format("cloud stage failed: {}", e.what()));
  }
}

CloudStageCounts CloudStage::counts() const {
  return {allowed_.load(), cached_.load(), denied_.load(), errors_.load()};
}

policy::Result<std::unique_ptr<CloudStage>> MakeCloudStage(const CloudConfig& config,
                                                           const std::string& node_id) {
  if (!config.enabled) return policy::Fail(Code::INVALID_ARGUMENT, "cloud.enabled: false");
  if (config.url.empty()) return policy::Fail(Code::INVALID_ARGUMENT, "cloud.url: not set");
  try {
    CloudStageOptions options;
    options.node = {node_id, config.node_mac};
    options.cache_ttl = config.cache_ttl;
    options.cache_size = config.cache_size;
    options.failure_mode_allow = config.failure_mode_allow;
    auto authorizer =
        std::make_shared<HttpAuthorizer>(DecisionEndpoint(config, node_id), config.node_key);
    return std::make_unique<CloudStage>(std::move(options), std::move(authorizer));
  } catch (const std::exception& e) {
    return policy::Fail(Code::INTERNAL, fmt::format("cloud: {}", e.what()));
  }
}

}  // namespace crigate::cloud
