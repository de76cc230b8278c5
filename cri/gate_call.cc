#include "cri/gate_call.h"

#include <fmt/format.h>

#include "cri/inspect.h"
#include "cri/log.h"
#include "policy/audit_record.h"

namespace crigate::cri {
namespace {

// The allowed call will not run: its token uses are given back.
void ReleaseUses(policy::Decision* decision) {
  for (const auto& use : decision->uses) {
    base::Status s = use->Release();
    if (!s.ok()) log::Warn("{} stays recorded: {}", use->Describe(), s.message());
  }
  decision->uses.clear();
}

// Allowed, then refused on the way out (the token could not be stripped,
// the approval not written): the refusal is recorded after the allow.
base::Status RefuseAllowed(const GateParts& parts, HeldGate* gate, const base::Status& status,
                           std::string_view what) {
  log::Error("allowed {} could not be {}: {}", gate->request.action, what, status.message());
  ReleaseUses(&gate->decision);
  return RefuseUnjudged(parts, gate->request, status);
}

}  // namespace

std::string Describe(const policy::GateRequest& r) {
  std::string out = fmt::format("uid={} gid={} pid={}", r.caller.uid, r.caller.gid, r.caller.pid);
  if (!r.caller.known) out = "caller=unknown";
  if (r.pod) out += fmt::format(" pod={}/{}", r.pod->namespace_, r.pod->name);
  if (r.container) out += fmt::format(" container={}", r.container->name);
  if (!r.container_id.empty()) out += fmt::format(" container_id={:.12}", r.container_id);
  if (!r.pod_sandbox_id.empty()) out += fmt::format(" sandbox_id={:.12}", r.pod_sandbox_id);
  if (!r.image.empty()) out += fmt::format(" image={}", r.image);
  return out;
}

base::Status RefuseUnjudged(const GateParts& parts, const policy::GateRequest& request,
                            base::Status refusal) {
  parts.pipeline->Reject(request, refusal.code(), refusal.message());
  log::Info("deny {} {}: {}", request.action.empty() ? request.method : request.action,
            Describe(request), refusal.message());
  return refusal;
}

HeldGate JudgeHeld(const GateParts& parts, policy::GateRequest request, std::string_view message) {
  HeldGate gate;
  gate.request = std::move(request);
  base::Status parsed = InspectRequest(gate.request.action, message, &gate.request);
  if (!parsed.ok()) {
    gate.status = RefuseUnjudged(parts, gate.request, parsed);
    return gate;
  }
  gate.decision = parts.pipeline->Decide(gate.request);
  if (!gate.decision.allow) {
    log::Info("deny {} {}: {} ({} us)", gate.request.action, Describe(gate.request),
              gate.decision.reason, gate.decision.latency.count());
    gate.status = gate.decision.ToStatus();
    return gate;
  }
  if (CarriesTokenAnnotation(gate.request)) {
    // The token is for the gate; containerd would keep it where any reader
    // of the pod's or container's status finds it.
    base::Status status =
        StripTokenAnnotations(gate.request.action, message, &gate.replacement, &gate.replaced);
    if (!status.ok()) {
      gate.status = RefuseAllowed(parts, &gate, status, "stripped of its token");
      return gate;
    }
  }
  if (parts.rewriter != nullptr) {
    std::string rewritten;
    bool changed = false;
    const std::string_view current = gate.replaced ? std::string_view(gate.replacement) : message;
    base::Status status =
        parts.rewriter->Rewrite(gate.request, gate.decision, current, &rewritten, &changed);
    if (!status.ok()) {
      parts.rewriter->Done(gate.request, gate.decision);
      gate.status = RefuseAllowed(parts, &gate, status, "prepared for forwarding");
      return gate;
    }
    if (changed) {
      gate.replacement = std::move(rewritten);
      gate.replaced = true;
    }
  }
  log::Info("allow {} {} ({} us)", gate.request.action, Describe(gate.request),
            gate.decision.latency.count());
  return gate;
}

void AbandonAllowed(const GateParts& parts, HeldGate* gate) {
  if (parts.rewriter != nullptr) parts.rewriter->Done(gate->request, gate->decision);
  ReleaseUses(&gate->decision);
}

bool ObserverMayBlock(const GateParts& parts, const policy::GateRequest& request) {
  return parts.observer != nullptr && parts.observer->MayBlock(request);
}

base::Status FinishAllowed(const GateParts& parts, HeldGate* gate, const AllowedEnd& end) {
  const base::Status& answer = end.answer;
  if (!answer.ok()) {
    // The decision line said "allow"; say how the call itself ended.
    log::Info("containerd answered allowed {} {}: {}: {}", gate->request.action,
              Describe(gate->request), policy::StatusCodeName(answer.code()), answer.message());
    // A call containerd never ran uses no token up.
    if ((answer.code() == base::Code::UNAVAILABLE && !end.reached_backend) ||
        answer.code() == base::Code::RESOURCE_EXHAUSTED) {
      ReleaseUses(&gate->decision);
    }
  }
  if (parts.rewriter != nullptr) parts.rewriter->Done(gate->request, gate->decision);
  if (parts.observer == nullptr) return base::Status::OK();
  return parts.observer->AfterAllowed(gate->request, gate->decision, answer, end.last_response);
}

}  // namespace crigate::cri
