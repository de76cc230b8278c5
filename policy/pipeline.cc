#include "policy/pipeline.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "policy/actions.h"
#include "policy/audit_record.h"
#include "policy/base/metrics.h"

namespace crigate::policy {
namespace {

using Code = base::Code;
using Steady = std::chrono::steady_clock;

std::string RandomPrefix() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

std::chrono::microseconds Since(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - start);
}

// The pipeline's metrics, registered once per process.
struct PipelineMetrics {
  base::CounterFamily& decisions;
  base::HistogramFamily& stage_seconds;
};

const PipelineMetrics& Metrics() {
  static const PipelineMetrics metrics{
      base::DefaultRegistry().Counters(
          "crigate_decisions_total",
          "Pipeline decisions by action, verdict (allow, deny) and the stage that decided a deny "
          "(none for an allow; token_use or audit when the allow could not be recorded; "
          "front_end for a request the front end refused before the stages).",
          {"action", "verdict", "stage"}),
      base::DefaultRegistry().Histograms("crigate_stage_duration_seconds",
                                         "Time one pipeline stage took for one call.", {"stage"})};
  return metrics;
}

// The action as a label: a caller may name any method, so only the table's
// own names become series ("other" for the rest, "unserved" for none).
std::string_view ActionLabel(const std::string& action) {
  if (action.empty()) return "unserved";
  if (GatableActions().count(action) > 0 || ReadOnlyActions().count(action) > 0) return action;
  return "other";
}

void CountDecision(const GateRequest& request, const Decision& d, std::string_view stage) {
  Metrics()
      .decisions
      .With({ActionLabel(request.action), d.allow ? "allow" : "deny", d.allow ? "none" : stage})
      .Inc();
}

StageResult RunStage(Stage& stage, const GateRequest& request, CallState& state) {
  try {
    return stage.Check(request, state);
  } catch (const std::exception& e) {
    return StageResult::Error(Code::INTERNAL, fmt::format("stage failed: {}", e.what()));
  } catch (...) {
    return StageResult::Error(Code::INTERNAL, "stage failed with an unknown exception");
  }
}

}  // namespace

StagedPipeline::StagedPipeline(base::Source<StageSet> stages, std::unique_ptr<AuditLog> audit)
    : stages_(std::move(stages)), audit_(std::move(audit)), id_prefix_(RandomPrefix()) {}

namespace {

std::shared_ptr<const StageSet> MakeSet(std::vector<std::unique_ptr<Stage>> stages,
                                        TrustStage* trust) {
  auto set = std::make_shared<StageSet>();
  set->stages = std::move(stages);
  set->trust = trust;
  return set;
}

}  // namespace

StagedPipeline::StagedPipeline(std::vector<std::unique_ptr<Stage>> stages,
                               std::unique_ptr<AuditLog> audit, TrustStage* trust)
    : StagedPipeline(base::FixedSource(MakeSet(std::move(stages), trust)), std::move(audit)) {}

StagedPipeline::Counters& StagedPipeline::CountersFor(const char* stage) {
  std::lock_guard lock(counters_mu_);
  auto it = counters_.find(std::string_view(stage));
  if (it == counters_.end()) {
    it = counters_.emplace(stage, std::make_unique<Counters>()).first;
    it->second->duration = &Metrics().stage_seconds.With({stage});
  }
  return *it->second;
}

std::string StagedPipeline::NewDecisionId() {
  return fmt::format("cg-{}-{}", id_prefix_, next_id_.fetch_add(1) + 1);
}

void StagedPipeline::Audit(const GateRequest& request, const CallState& state,
                           std::string_view phase, Decision& d) {
  base::Status written;
  try {
    written = audit_->Record(DecisionRecord(request, d, state, phase));
  } catch (const std::exception& e) {
    written = Fail(Code::INTERNAL, e.what());
  }
  if (written.ok()) return;
  audit_failures_.fetch_add(1);
  if (d.allow) {
    d.allow = false;
    d.code = Code::UNAVAILABLE;
    d.reason = fmt::format("crigate audit: {}; call refused: no decision without an audit record",
                           written.message());
  } else {
    d.reason += fmt::format(" (and the audit record failed: {})", written.message());
  }
}

Decision StagedPipeline::Decide(const GateRequest& request) {
  const auto start = Steady::now();
  Decision d;
  CallState state;
  // One stage set for the whole decision, whatever a reload does meanwhile.
  const std::shared_ptr<const StageSet> set = stages_();
  std::string_view decided_by = "decision";  // a deny's stage, for the metrics
  try {
    d.allow = true;
    const bool gated = request.method_class == MethodClass::kGated;
    for (const std::unique_ptr<Stage>& stage_ptr : set->stages) {
      Stage& stage = *stage_ptr;
      if (!gated && !stage.checks_every_mutating_call()) continue;
      const auto stage_start = Steady::now();
      StageResult r = RunStage(stage, request, state);
      Counters& counts = CountersFor(stage.name());
      counts.duration->ObserveSeconds(Steady::now() - stage_start);
      d.stages.push_back({stage.name(), r});
      decided_by = stage.name();
      if (r.verdict == Verdict::kAllow) {
        counts.allowed.fetch_add(1);
        continue;
      }
      if (r.verdict == Verdict::kError) {
        counts.errors.fetch_add(1);
        if (stage.failure_mode_allow()) continue;  // this stage's answer is optional
        d.allow = false;
        d.code = r.code == Code::OK ? Code::UNAVAILABLE : r.code;
        d.reason = fmt::format("crigate {}: no answer ({}); denied, failing closed", stage.name(),
                               r.reason);
        break;
      }
      counts.denied.fetch_add(1);
      d.allow = false;
      d.code = r.code == Code::OK ? Code::PERMISSION_DENIED : r.code;
      d.reason = fmt::format("crigate {}: {}", stage.name(), r.reason);
      break;
    }
    if (d.allow) {
      d.reason = d.stages.empty() ? fmt::format("no policy stage checks {} calls",
                                                MethodClassName(request.method_class))
                                  : "every stage allowed";
    }
  } catch (const std::exception& e) {
    d.allow = false;
    d.code = Code::INTERNAL;
    d.reason = fmt::format("crigate: decision failed: {}; denied", e.what());
    decided_by = "decision";
  }
  // A token use counts only for a call that is allowed and audited: made
  // durable before the allow goes out, released if anything after fails.
  std::vector<std::shared_ptr<PendingUse>> committed;
  const bool stages_allowed = d.allow;
  if (d.allow) CommitUses(state, d, committed);
  if (!d.allow) ReleaseUses(state.pending_uses);
  d.image_digest = state.image_digest;
  d.decision_id = state.decision_id.empty() ? NewDecisionId() : state.decision_id;
  d.latency = Since(start);
  const bool allowed_before_audit = d.allow;
  Audit(request, state, "decide", d);
  if (stages_allowed && !allowed_before_audit) {
    decided_by = "token_use";  // the use could not be recorded
  } else if (allowed_before_audit && !d.allow) {
    decided_by = "audit";
  }
  CountDecision(request, d, decided_by);
  if (!d.allow) {
    ReleaseUses(committed);  // the audit record failed: the call does not run
  } else {
    d.uses = std::move(committed);
    d.token = state.token;
    if (state.existing_container) {
      d.container_id = state.existing_container->id;
      d.spec_digest = state.spec_digest;
    }
  }
  return d;
}

void StagedPipeline::CommitUses(CallState& state, Decision& d,
                                std::vector<std::shared_ptr<PendingUse>>& committed) {
  for (const std::shared_ptr<PendingUse>& use : state.pending_uses) {
    base::Status s;
    try {
      s = use->Commit();
    } catch (const std::exception& e) {
      s = Fail(Code::INTERNAL, e.what());
    }
    if (!s.ok()) {
      d.allow = false;
      d.code = Code::UNAVAILABLE;
      d.reason = fmt::format(
          "crigate: {} could not be recorded ({}); call refused, the token is "
          "not used up",
          use->Describe(), s.message());
      ReleaseUses(committed);
      committed.clear();
      return;
    }
    committed.push_back(use);
  }
}

void StagedPipeline::ReleaseUses(const std::vector<std::shared_ptr<PendingUse>>& uses) {
  for (const std::shared_ptr<PendingUse>& use : uses) {
    try {
      base::Status s = use->Release();
      if (!s.ok()) release_failures_.fetch_add(1);
    } catch (...) {
      release_failures_.fetch_add(1);
    }
  }
}

Decision StagedPipeline::Reject(const GateRequest& request, base::Code code,
                                const std::string& reason) {
  Decision d;
  d.allow = false;
  d.code = code == Code::OK ? Code::INVALID_ARGUMENT : code;
  d.reason = reason;
  d.decision_id = NewDecisionId();
  Audit(request, CallState{}, "reject", d);
  CountDecision(request, d, "front_end");
  return d;
}

Decision StagedPipeline::CheckPulledImage(const GateRequest& request,
                                          const std::string& pulled_image_ref) {
  const auto start = Steady::now();
  Decision d;
  CallState state;
  const std::shared_ptr<const StageSet> set = stages_();
  TrustStage* const trust = set->trust;
  if (!trust) {
    d.allow = true;
    d.reason = "trust stage disabled; pulled image not checked";
  } else {
    StageResult r;
    try {
      r = trust->CheckPulled(request, pulled_image_ref, state);
    } catch (const std::exception& e) {
      r = StageResult::Error(Code::INTERNAL, fmt::format("stage failed: {}", e.what()));
    }
    d.stages.push_back({trust->name(), r});
    d.allow = r.verdict == Verdict::kAllow;
    if (d.allow) {
      d.reason = r.reason;
    } else {
      d.code = r.code == Code::OK ? Code::PERMISSION_DENIED : r.code;
      d.reason = fmt::format("crigate trust: {}{}", r.reason,
                             r.verdict == Verdict::kError ? "; denied, failing closed" : "");
    }
  }
  d.image_digest = state.image_digest;
  d.decision_id = NewDecisionId();
  d.latency = Since(start);
  Audit(request, state, "after_pull", d);
  return d;
}

std::vector<StageCounts> StagedPipeline::Counts() const {
  std::vector<StageCounts> out;
  const std::shared_ptr<const StageSet> set = stages_();
  std::lock_guard lock(counters_mu_);
  for (const std::unique_ptr<Stage>& stage : set->stages) {
    auto it = counters_.find(std::string_view(stage->name()));
    if (it == counters_.end()) {
      out.push_back({stage->name()});
    } else {
      out.push_back({stage->name(), it->second->allowed.load(), it->second->denied.load(),
                     it->second->errors.load()});
    }
  }
  return out;
}

std::string StagedPipeline::CountsText() const {
  std::string out;
  for (const StageCounts& c : Counts()) {
    out += fmt::format("{} allow={} deny={} error={}; ", c.stage, c.allowed, c.denied, c.errors);
  }
  return out + fmt::format("audit failures={} use release failures={}", audit_failures_.load(),
                           release_failures_.load());
}

}  // namespace crigate::policy
