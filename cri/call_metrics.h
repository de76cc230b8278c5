// What the front end counts of every call, in the process's metrics
// registry (policy/base/metrics.h):
//
//   crigate_calls_total{method, class, outcome}   every call the front door answered
//   crigate_passthrough_duration_seconds           relayed read-only calls, header block to end
//
// method is the CRI method ("Version"), "other" for a method of a CRI service
// the table does not know, "unserved" for a path crigate does not serve,
// "Check" for grpc.health.v1.Health/Check; class is "read-only", "mutating",
// "gated", "unserved" or "health"; outcome the gRPC
// status the caller got ("OK", "PERMISSION_DENIED"; "CANCELLED" when the
// stream was reset).
//
// Both front ends record here (the relay on its event loop, the grpc++ proxy
// as a call finishes). Record runs for every call: after the first
// call of a (method, class, outcome) it is a binary search over the method
// names and two atomic adds, no lock and no allocation.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <string_view>
#include <vector>

#include "policy/base/metrics.h"
#include "policy/base/status.h"

namespace crigate::cri {

class CallMetrics final {
 public:
  enum class Class { kReadOnly, kMutating, kGated, kUnserved, kHealth };

  // The one instance, registered in base::DefaultRegistry().
  static CallMetrics& Instance();

  // method: the CRI method name, or empty for an unserved path.
  // passthrough: a read-only call relayed to containerd; elapsed is then
  // observed in the passthrough histogram.
  void Record(std::string_view method, Class method_class, base::Code outcome, bool passthrough,
              std::chrono::nanoseconds elapsed);

 private:
  CallMetrics();

  static constexpr size_t kClasses = 5;
  static constexpr size_t kCodes = 17;  // OK..UNAUTHENTICATED; anything else is UNKNOWN

  // Constant after construction: the known method names, sorted; slot
  // methods_.size() is "other", the next "unserved", the last "Check".
  std::vector<std::string_view> methods_;
  base::CounterFamily& calls_;
  base::Histogram& passthrough_;
  // One counter per (method, class, outcome), resolved on first use.
  std::vector<std::array<std::array<std::atomic<base::Counter*>, kCodes>, kClasses>> slots_;
};

}  // namespace crigate::cri
