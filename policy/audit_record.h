// What one gated decision looks like in the audit log: who called what, on
// which image and digest, what every stage said, and the outcome.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "policy/base/status.h"
#include "policy/gate.h"

namespace crigate::policy {

// phase: "decide" (the stages ran), "reject" (refused before any stage:
// the request did not parse) or "after_pull" (PullImage's result checked).
nlohmann::ordered_json DecisionRecord(const GateRequest& request, const Decision& decision,
                                      const CallState& state, std::string_view phase);

// "PERMISSION_DENIED", "OK"...
inline std::string StatusCodeName(base::Code code) {
  return base::CodeName(static_cast<int>(code));
}
const char* VerdictName(Verdict verdict);

}  // namespace crigate::policy
