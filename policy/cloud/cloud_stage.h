// The pipeline's last check before the audit: the cloud authorizes the call.
//
//   cloud allowed (or a live cached allow)  -> Allow
//   cloud denied, or answered malformed     -> Deny(PERMISSION_DENIED, "cloud denied: <reason>")
//   no answer (down, timeout, non-200, TLS) -> Error(UNAVAILABLE, "cloud unreachable: <what>")
//
// The pipeline denies on Error unless failure_mode_allow() (config
// cloud.failure_mode_allow, false by default). On an answer the cloud's
// decision_id goes to CallState.decision_id; a cached allow leaves it empty
// (each call gets its own id) and names the cached decision in its reason.
//
// Built by policy/cloud_hook.cc from PolicyConfig::cloud (ParseCloudConfig):
//   auto stage = cloud::MakeCloudStage(*config.cloud, config.node_id);  // when enabled
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "policy/cloud/allow_cache.h"
#include "policy/cloud/authz_input.h"
#include "policy/cloud/cloud_authorizer.h"
#include "policy/cloud/cloud_config.h"
#include "policy/gate.h"
#include "policy/result.h"

namespace crigate::cloud {

struct CloudStageOptions {
  NodeIdentity node;
  std::chrono::milliseconds cache_ttl{5000};
  size_t cache_size = 10000;
  bool failure_mode_allow = false;
};

struct CloudStageCounts {
  uint64_t allowed = 0;  // by the cloud itself
  uint64_t cached = 0;   // allowed from the cache, without asking
  uint64_t denied = 0;
  uint64_t errors = 0;
};

class CloudStage final : public policy::Stage {
 public:
  // authorizer must not be null; clock (the cache's) must outlive the stage.
  CloudStage(CloudStageOptions options, std::shared_ptr<Authorizer> authorizer,
             const base::Clock& clock = base::SystemClock::Instance());

  const char* name() const override { return "cloud"; }
  policy::StageResult Check(const policy::GateRequest& request, policy::CallState& state) override;
  bool failure_mode_allow() const override { return options_.failure_mode_allow; }

  CloudStageCounts counts() const;

 private:
  // Constant after construction.
  const CloudStageOptions options_;
  const std::shared_ptr<Authorizer> authorizer_;

  AllowCache cache_;  // thread-safe
  std::atomic<uint64_t> allowed_{0}, cached_{0}, denied_{0}, errors_{0};
};

// The stage for an enabled config: an HttpAuthorizer on config.url with the
// node key already read by ParseCloudConfig. node_id is [node] id.
// INVALID_ARGUMENT when config is not enabled or has no URL.
policy::Result<std::unique_ptr<CloudStage>> MakeCloudStage(const CloudConfig& config,
                                                           const std::string& node_id);

}  // namespace crigate::cloud
