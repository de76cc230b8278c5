// The gate's pipeline: stages in order (privilege, facts, trust, token,
// cloud); a mutating call that is not gated runs only the stages that check
// every mutating call (privilege). The first Deny stops the chain, an Error is a deny unless that
// stage offers failure_mode_allow (only the cloud stage may), and every decision is written to the
// audit log before it is returned. If the audit record cannot be written, the decision is a deny:
// no decision without a record.
//
// Exceptions never leave Decide: a throwing stage is an Error of that stage.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/audit_log.h"
#include "policy/base/latest.h"
#include "policy/base/metrics.h"
#include "policy/gate.h"
#include "policy/trust_stage.h"

namespace crigate::policy {

// How often each stage answered what, since start; for the daemon's logs.
struct StageCounts {
  std::string stage;
  uint64_t allowed = 0;
  uint64_t denied = 0;
  uint64_t errors = 0;  // counted whether or not the error was let through
};

// The stages one decision runs, in order, built whole from one PolicyConfig
// (pipeline_builder.h) and never changed afterwards: a reload builds a new set.
struct StageSet {
  std::vector<std::unique_ptr<Stage>> stages;
  TrustStage* trust = nullptr;  // one of stages, or null: CheckPulledImage uses it
};

class StagedPipeline final : public Pipeline {
 public:
  // Each decision reads its stage set from stages once and keeps it to the
  // end; audit must not be null.
  StagedPipeline(base::Source<StageSet> stages, std::unique_ptr<AuditLog> audit);
  // One fixed set (tests).
  StagedPipeline(std::vector<std::unique_ptr<Stage>> stages, std::unique_ptr<AuditLog> audit,
                 TrustStage* trust);

  Decision Decide(const GateRequest& request) override;
  Decision Reject(const GateRequest& request, base::Code code, const std::string& reason) override;

  // The second half of a PullImage that Decide allowed: after containerd
  // answered with pulled_image_ref (PullImageResponse.image_ref), checks the
  // pulled image against the trust rule's pinned digests and records the
  // result. On a deny the front end must remove the pulled image and answer
  // the caller with the decision's status instead of containerd's.
  Decision CheckPulledImage(const GateRequest& request, const std::string& pulled_image_ref);

  // For non-call events (the monitor's stops).
  AuditLog& audit() { return *audit_; }

  std::vector<StageCounts> Counts() const;
  // "privilege allow=12 deny=1 error=0; trust ...; audit failures=0"
  std::string CountsText() const;

 private:
  struct Counters {
    std::atomic<uint64_t> allowed{0}, denied{0}, errors{0};
    base::Histogram* duration = nullptr;  // crigate_stage_duration_seconds{stage}
  };

  // Writes the record; on failure turns d into a deny.
  void Audit(const GateRequest& request, const CallState& state, std::string_view phase,
             Decision& d);
  std::string NewDecisionId();
  // Commits state's pending uses into committed; on the first failure turns d
  // into a deny and releases what was committed.
  void CommitUses(CallState& state, Decision& d,
                  std::vector<std::shared_ptr<PendingUse>>& committed);
  // Releases uses; a failure is counted (the use then stays recorded: the
  // token is lost, never made replayable).
  void ReleaseUses(const std::vector<std::shared_ptr<PendingUse>>& uses);

  // The counters of the stage with this name, kept across stage sets.
  Counters& CountersFor(const char* stage);

  const base::Source<StageSet> stages_;
  const std::unique_ptr<AuditLog> audit_;
  const std::string id_prefix_;  // random per process, so ids stay unique across restarts

  mutable std::mutex counters_mu_;
  // By stage name; entries are added, never removed. Guarded by counters_mu_
  // (the Counters themselves are atomic).
  std::map<std::string, std::unique_ptr<Counters>, std::less<>> counters_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> audit_failures_{0};
  std::atomic<uint64_t> release_failures_{0};
};

}  // namespace crigate::policy
