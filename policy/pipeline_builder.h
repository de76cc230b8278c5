// Builds the configured pipeline: privilege -> facts -> trust -> token ->
// cloud, each only when enabled (facts whenever there is a resolver), over
// one audit log.
//
// Daemon usage (cri/daemon/daemon.cc): at start OpenTokenUses and
// OpenTokenGrants once, OpenAudit once, BuildStages from the config, and a
// StagedPipeline reading its stage set from the daemon's current snapshot;
// on SIGHUP BuildStages again from the new config with the same deps, and
// swap the snapshot. Tests use BuildPipeline: one fixed set.
#pragma once

#include <memory>
#include <vector>

#include "policy/base/time.h"
#include "policy/image_resolver.h"
#include "policy/pipeline.h"
#include "policy/policy_config.h"
#include "policy/token_grants.h"
#include "policy/token_use_store.h"

namespace crigate::policy {

struct PipelineDeps {
  // Required when trust is enabled; used by token for container-id calls.
  // Must outlive the pipeline.
  ImageResolver* resolver = nullptr;
  const base::Clock* clock = nullptr;  // null: the system clock
  // The token stage's record of used tokens (OpenTokenUses); null: a new
  // memory-only one of token.replay_cache_size. A daemon opens it once at
  // start and passes it to every build, so that a rebuild makes no used
  // token replayable.
  std::shared_ptr<TokenUseStore> token_uses;
  // Tokens kept for containers created with them (OpenTokenGrants); null:
  // container-id calls carry their token in metadata only.
  const TokenGrants* token_grants = nullptr;
};

// The stages config enables, in order. INVALID_ARGUMENT naming the key when
// a dependency is missing.
Result<std::shared_ptr<const StageSet>> BuildStages(const PolicyConfig& config,
                                                    const PipelineDeps& deps);

// Opens config.audit; the error names audit.path.
Result<std::unique_ptr<AuditLog>> OpenAudit(const PolicyConfig& config, const PipelineDeps& deps);

// BuildStages and OpenAudit, as a pipeline with that one stage set.
Result<std::unique_ptr<StagedPipeline>> BuildPipeline(const PolicyConfig& config,
                                                      const PipelineDeps& deps);

// Opens token.use_store (memory only when it is ""), naming the key on error.
Result<std::shared_ptr<TokenUseStore>> OpenTokenUses(const PolicyConfig& config,
                                                     const base::Clock& clock);

// Opens token.grant_dir (memory only when it is ""), naming the key on error.
Result<std::unique_ptr<TokenGrants>> OpenTokenGrants(const PolicyConfig& config);

// Appends the cloud stage when config.cloud enables it (policy/cloud is
// built in); the one place that knows the cloud stage's constructor.
base::Status AddCloudStage(const PolicyConfig& config, const PipelineDeps& deps,
                           std::vector<std::unique_ptr<Stage>>& stages);

}  // namespace crigate::policy
