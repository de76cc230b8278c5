#include "policy/pipeline_builder.h"

#include <fmt/format.h>

#include "policy/facts_stage.h"
#include "policy/privilege.h"
#include "policy/token_stage.h"
#include "policy/trust_stage.h"

namespace crigate::policy {

Result<std::shared_ptr<const StageSet>> BuildStages(const PolicyConfig& config,
                                                    const PipelineDeps& deps) {
  using Code = base::Code;
  const base::Clock& clock = deps.clock ? *deps.clock : base::SystemClock::Instance();
  auto set = std::make_shared<StageSet>();
  std::vector<std::unique_ptr<Stage>>& stages = set->stages;
  TrustStage*& trust = set->trust;

  if (config.privilege.enabled) {
    PrivilegeOptions options;
    options.super_uids = config.privilege.super_uids;
    options.super_gids = config.privilege.super_gids;
    options.read_only_open = config.gate.read_only_open;
    stages.push_back(std::make_unique<PrivilegeStage>(std::move(options)));
  }
  // Facts from containerd come before any stage judges them; without a
  // resolver (unit tests of other stages) the stages that need facts refuse.
  if (deps.resolver) stages.push_back(std::make_unique<FactsStage>(*deps.resolver));
  if (config.trust.enabled) {
    if (!deps.resolver)
      return Fail(Code::INVALID_ARGUMENT, "the trust stage needs an image resolver");
    if (!config.trust.loaded) return Fail(Code::INVALID_ARGUMENT, "trust.store: not loaded");
    auto stage = std::make_unique<TrustStage>(
        config.trust.loaded,
        TrustStageOptions{config.trust.sandbox_image, config.trust.kubelet_root}, *deps.resolver);
    trust = stage.get();
    stages.push_back(std::move(stage));
  }
  if (config.token.enabled) {
    if (!config.token.loaded) return Fail(Code::INVALID_ARGUMENT, "token.keys: not loaded");
    TokenStageOptions options;
    options.required_for = config.token.required_for;
    options.node_id = config.node_id;
    options.max_ttl = config.token.max_ttl;
    options.clock_skew = config.token.clock_skew;
    std::shared_ptr<TokenUseStore> uses = deps.token_uses;
    if (!uses) {
      auto memory = TokenUseStore::Open("", config.token.replay_cache_size, clock.Now());
      if (!memory.ok()) return memory.status();
      uses = std::move(memory).value();
    }
    stages.push_back(std::make_unique<TokenStage>(config.token.loaded, std::move(options),
                                                  std::move(uses), clock, deps.resolver,
                                                  deps.token_grants));
  }
  if (base::Status cloud = AddCloudStage(config, deps, stages); !cloud.ok()) return cloud;
  return std::shared_ptr<const StageSet>(std::move(set));
}

Result<std::unique_ptr<AuditLog>> OpenAudit(const PolicyConfig& config, const PipelineDeps& deps) {
  AuditOptions audit_options = config.audit;
  audit_options.node_id = config.node_id;
  Result<std::unique_ptr<AuditLog>> audit =
      AuditLog::Open(audit_options, deps.clock ? *deps.clock : base::SystemClock::Instance());
  if (!audit.ok()) return Fail(audit.code(), fmt::format("audit.path: {}", audit.error()));
  return audit;
}

Result<std::unique_ptr<StagedPipeline>> BuildPipeline(const PolicyConfig& config,
                                                      const PipelineDeps& deps) {
  Result<std::shared_ptr<const StageSet>> stages = BuildStages(config, deps);
  if (!stages.ok()) return stages.status();
  Result<std::unique_ptr<AuditLog>> audit = OpenAudit(config, deps);
  if (!audit.ok()) return audit.status();
  return std::make_unique<StagedPipeline>(base::FixedSource(std::move(stages).value()),
                                          std::move(audit).value());
}

Result<std::shared_ptr<TokenUseStore>> OpenTokenUses(const PolicyConfig& config,
                                                     const base::Clock& clock) {
  auto store =
      TokenUseStore::Open(config.token.use_store, config.token.replay_cache_size, clock.Now());
  if (!store.ok()) return Fail(store.code(), fmt::format("token.use_store: {}", store.error()));
  return std::shared_ptr<TokenUseStore>(std::move(store).value());
}

Result<std::unique_ptr<TokenGrants>> OpenTokenGrants(const PolicyConfig& config) {
  auto grants = TokenGrants::Open(config.token.grant_dir, config.token.max_ttl);
  if (!grants.ok()) return Fail(grants.code(), fmt::format("token.grant_dir: {}", grants.error()));
  return std::move(grants).value();
}

}  // namespace crigate::policy
