#include "policy/audit_record.h"

#include <nlohmann/json.hpp>

namespace crigate::policy {

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllow:
      return "allow";
    case Verdict::kDeny:
      return "deny";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

nlohmann::ordered_json DecisionRecord(const GateRequest& request, const Decision& decision,
                                      const CallState& state, std::string_view phase) {
  using nlohmann::ordered_json;
  ordered_json record;
  record["type"] = "decision";
  record["phase"] = phase;
  record["decision"] = decision.allow ? "allow" : "deny";
  if (!decision.allow) record["code"] = StatusCodeName(decision.code);
  record["reason"] = decision.reason;
  record["method"] = request.method;
  record["action"] = request.action;
  const Caller& c = request.caller;
  record["caller"] = c.known ? ordered_json{{"uid", c.uid}, {"gid", c.gid}, {"pid", c.pid}}
                             : ordered_json{{"known", false}};
  if (!request.image.empty()) record["image"] = request.image;
  if (!state.image_ref.empty()) record["image_ref"] = state.image_ref;
  record["digest"] = decision.image_digest;
  if (request.pod) {
    record["pod"] = {{"namespace", request.pod->namespace_},
                     {"name", request.pod->name},
                     {"uid", request.pod->uid}};
  }
  if (request.container) record["container"] = request.container->name;
  if (!request.container_id.empty()) record["container_id"] = request.container_id;
  if (!request.pod_sandbox_id.empty()) record["pod_sandbox_id"] = request.pod_sandbox_id;
  if (!state.token_id.empty()) {
    record["token"] = {{"sub", state.token_subject}, {"jti", state.token_id}};
  }
  ordered_json stages = ordered_json::array();
  for (const StageRecord& s : decision.stages) {
    ordered_json stage = {{"stage", s.stage}, {"verdict", VerdictName(s.result.verdict)}};
    if (s.result.verdict != Verdict::kAllow) stage["code"] = StatusCodeName(s.result.code);
    stage["reason"] = s.result.reason;
    stages.push_back(std::move(stage));
  }
  record["stages"] = std::move(stages);
  record["decision_id"] = decision.decision_id;
  record["latency_us"] = decision.latency.count();
  return record;
}

}  // namespace crigate::policy
