// grpc.health.v1.Health/Check, answered by crigate itself on its socket
// (the one path outside the CRI that it serves; Watch and every other
// method of the health service are refused like any unknown path).
//
// "" (the server as a whole) and each CRI service crigate serves are
// SERVING only while the probe says so: containerd answers and the policy
// is loaded. Any other service name is NOT_FOUND, as the health protocol
// asks. A Check is not a decision on the node: it is not audited.
//
//   HealthService health([&] { return ContainerdAnswers() && PolicyLoaded(); });
//   auto answer = health.Check(request_bytes);  // a HealthCheckResponse, or the error
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "policy/base/status.h"

namespace crigate::cri {

inline constexpr std::string_view kHealthCheckPath = "/grpc.health.v1.Health/Check";

// HealthCheckResponse.ServingStatus, as on the wire.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2 };

class HealthService final {
 public:
  // OK: serving; otherwise why not (for the log). May block briefly (it
  // asks containerd); runs on a worker.
  using Probe = std::function<base::Status()>;

  explicit HealthService(Probe probe) : probe_(std::move(probe)) {}

  // The serialized HealthCheckResponse for a serialized HealthCheckRequest;
  // INVALID_ARGUMENT for a request that is not one, NOT_FOUND for a service
  // crigate does not serve.
  base::Result<std::string> Check(std::string_view request) const;

 private:
  const Probe probe_;
};

// The wire forms, for the daemon's own client (crigate status) and tests.
std::string EncodeHealthCheckRequest(std::string_view service);
// The status field of a serialized HealthCheckResponse; INVALID_ARGUMENT
// when it is not one.
base::Result<ServingStatus> DecodeHealthCheckResponse(std::string_view response);

}  // namespace crigate::cri
