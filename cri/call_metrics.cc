#include "cri/call_metrics.h"

#include <algorithm>
#include <string>

#include "policy/actions.h"

namespace crigate::cri {
namespace {

constexpr const char* kClassNames[] = {"read-only", "mutating", "gated", "unserved", "health"};

}  // namespace

CallMetrics& CallMetrics::Instance() {
  static CallMetrics* const metrics = new CallMetrics();  // never destroyed, like the registry
  return *metrics;
}

CallMetrics::CallMetrics()
    : calls_(base::DefaultRegistry().Counters(
          "crigate_calls_total",
          "CRI calls the front door answered, by method, class (read-only, mutating, gated, "
          "unserved, health) and outcome (the gRPC status the caller got).",
          {"method", "class", "outcome"})),
      passthrough_(base::DefaultRegistry()
                       .Histograms("crigate_passthrough_duration_seconds",
                                   "Read-only calls relayed to containerd, from the request's "
                                   "header block to the end of the answer.")
                       .With({})) {
  for (const std::set<std::string>* names :
       {&policy::ReadOnlyActions(), &policy::GatableActions()}) {
    for (const std::string& name : *names) methods_.emplace_back(name);  // static sets
  }
  std::sort(methods_.begin(), methods_.end());
  methods_.erase(std::unique(methods_.begin(), methods_.end()), methods_.end());
  // Then "other", "unserved" and the health service's Check.
  slots_ = decltype(slots_)(methods_.size() + 3);
}

void CallMetrics::Record(std::string_view method, Class method_class, base::Code outcome,
                         bool passthrough, std::chrono::nanoseconds elapsed) {
  size_t m = methods_.size() + 1;  // unserved
  if (method_class == Class::kHealth) {
    m = methods_.size() + 2;
  } else if (method_class != Class::kUnserved) {
    const auto it = std::lower_bound(methods_.begin(), methods_.end(), method);
    m = it != methods_.end() && *it == method ? static_cast<size_t>(it - methods_.begin())
                                              : methods_.size();
  }
  auto code = static_cast<size_t>(outcome);
  if (code >= kCodes) code = static_cast<size_t>(base::Code::UNKNOWN);
  const auto c = static_cast<size_t>(method_class);
  std::atomic<base::Counter*>& slot = slots_[m][c][code];
  base::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // First call of its kind: the family's mutex, once.
    const std::string name = m < methods_.size()        ? std::string(methods_[m])
                             : m == methods_.size()     ? std::string("other")
                             : m == methods_.size() + 1 ? std::string("unserved")
                                                        : std::string("Check");
    counter = &calls_.With({name, kClassNames[c], base::CodeName(static_cast<int>(code))});
    slot.store(counter, std::memory_order_release);
  }
  counter->Inc();
  if (passthrough) passthrough_.ObserveSeconds(elapsed);
}

}  // namespace crigate::cri
