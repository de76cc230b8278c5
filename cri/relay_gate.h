// The event-loop front end's gate: the relay's route, decide and refused
// hooks (cri/h2/relay.h), built from the same parts and the same per-call
// steps (cri/gate_call.h) as the grpc++ proxy, so that both front ends
// decide, audit and follow up alike.
//
//   auto relay = h2::Relay::Create(RelayGateOptions(options, parts, &work));
//
// Read-only methods are relayed on the loop thread; every other CRI method
// is held for the pipeline; grpc.health.v1.Health/Check is answered by
// `health` (when given) on a worker; anything else is refused. Decisions, refusals'
// audit records and the after-call steps that may block run on `work`.
#pragma once

#include <string>

#include "cri/front_end_options.h"
#include "cri/gate_call.h"
#include "cri/h2/relay.h"
#include "cri/health.h"
#include "cri/work_queue.h"

namespace crigate::cri {

// The unix socket path of a "unix:///path" or "unix:/path" endpoint;
// INVALID_ARGUMENT for anything else.
base::Result<std::string> UnixSocketPath(const std::string& endpoint);

// options.backend_target must be a unix endpoint (UnixSocketPath). health
// may be null (the health path is then refused like any other); it must
// outlive the relay.
base::Result<h2::RelayOptions> RelayGateOptions(const ProxyOptions& options, const GateParts& parts,
                                                WorkQueue* work,
                                                const HealthService* health = nullptr);

}  // namespace crigate::cri
