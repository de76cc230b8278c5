// Builds the configured pipeline: privilege -> trust -> token -> cloud, each
// only when enabled, over one audit log.
//
// Front end usage (cri/main.cc):
//   auto config = ParsePolicyConfig(root, errors);   // at start (and for --check-config)
//   PipelineDeps deps;  deps.resolver = &resolver;  deps.replay = replay_cache;
//   auto pipeline = BuildPipeline(*config, deps);
//   deps.pipeline = pipeline->get();
//   on SIGHUP:        (*pipeline)->Reload();          // trust store, token keys, cloud node key
//   after PullImage:  (*pipeline)->CheckPulledImage(request, response.image_ref());
//   monitor events:   (*pipeline)->audit().Record(event);
//   cloud events:     cloud::MakeEventSink(*config->cloud, config->node_id)  (when config->cloud)
#pragma once

#include <memory>
#include <vector>

#include "policy/clock.h"
#include "policy/image_resolver.h"
#include "policy/pipeline.h"
#include "policy/policy_config.h"
#include "policy/replay_cache.h"

namespace crigate::policy {

struct PipelineDeps {
  // Required when trust is enabled; used by token for container-id calls.
  // Must outlive the pipeline.
  ImageResolver* resolver = nullptr;
  const Clock* clock = nullptr;  // null: the system clock
  // The token stage's memory of used tokens; null: a new one of
  // token.replay_cache_size. A daemon that rebuilds its pipeline (a config
  // change) should make one at start and pass it to every build, so that a
  // rebuild makes no used token replayable.
  std::shared_ptr<ReplayCache> replay;
};

// INVALID_ARGUMENT / UNAVAILABLE naming the key when a dependency is
// missing or the audit log cannot be opened ("audit.path: cannot open ...").
Result<std::unique_ptr<StagedPipeline>> BuildPipeline(const PolicyConfig& config,
                                                      const PipelineDeps& deps);

// Appends the cloud stage when config.cloud enables it (policy/cloud is
// built in); the one place that knows the cloud stage's constructor.
grpc::Status AddCloudStage(const PolicyConfig& config, const PipelineDeps& deps,
                           std::vector<std::unique_ptr<Stage>>& stages);

}  // namespace crigate::policy
