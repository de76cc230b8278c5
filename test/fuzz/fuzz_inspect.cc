// CRI request inspection: arbitrary bytes as the request of every gated
// method (and of the read-only ones), as crigate receives them from a
// caller. Input: "<method name>\n<message bytes>"; an unknown name is one
// more case, and "HealthCheck" is the health request crigate answers itself. What inspection
// accepts is stripped of token annotations and re-encoded, as an allowed call would be.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cri/health.h"
#include "cri/inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  if (nl == std::string_view::npos || nl > 64) return 0;
  const std::string action(input.substr(0, nl));
  const std::string_view request = input.substr(nl + 1);
  if (action == "HealthCheck") {
    // grpc.health.v1.Health/Check, answered by crigate itself.
    static const crigate::cri::HealthService health([] { return crigate::base::Status::OK(); });
    auto answer = health.Check(request);
    if (answer.ok() && !crigate::cri::DecodeHealthCheckResponse(*answer).ok()) __builtin_trap();
    return 0;
  }
  crigate::policy::GateRequest out;
  out.action = action;
  if (!crigate::cri::InspectRequest(action, request, &out).ok()) return 0;
  if (crigate::cri::CarriesTokenAnnotation(out)) {
    std::string stripped;
    bool changed = false;
    (void)crigate::cri::StripTokenAnnotations(action, request, &stripped, &changed);
  }
  return 0;
}
