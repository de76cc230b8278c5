// One held call's way through the gate, the same for either front end
// (the grpc++ proxy, cri/proxy.h, and the event loop, cri/relay_gate.h):
// inspect its message, run the pipeline, strip the token, let the rewriter
// prepare it; and once containerd answered, give back what a call that did
// not run must not keep and tell the observer. No grpc++ and no nghttp2:
// bytes and base::Status in and out.
//
//   HeldGate gate = JudgeHeld(parts, std::move(request), message);
//   if (!gate.status.ok()) answer(gate.status);           // audited and logged
//   else forward(gate.replaced ? gate.replacement : message);
//   ... containerd answers ...
//   answer(FinishAllowed(parts, &gate, end));            // OK keeps containerd's
#pragma once

#include <string>
#include <string_view>

#include "cri/call_hooks.h"
#include "policy/base/status.h"
#include "policy/gate.h"

namespace crigate::cri {

// What a held call is judged with. The pointers outlive every call.
struct GateParts {
  policy::Pipeline* pipeline = nullptr;
  RequestRewriter* rewriter = nullptr;  // optional
  CallObserver* observer = nullptr;     // optional
};

// A held call after the gate: allowed (status OK) with the message to
// forward, or refused with its answer.
struct HeldGate {
  base::Status status;
  bool replaced = false;    // forward `replacement`, not the caller's message
  std::string replacement;  // the request without its token, or as the rewriter made it
  policy::GateRequest request;
  policy::Decision decision;
};

// How an allowed call ended.
struct AllowedEnd {
  base::Status answer;  // containerd's status, or why the call broke off
  // containerd may have run it: a token's use is given back only when it
  // certainly did not (an UNAVAILABLE that never reached it).
  bool reached_backend = false;
  const std::string* last_response = nullptr;
};

// request holds what the front end knows (method, action, class, caller,
// bearer token); message is the first message's payload, uncompressed.
// Every refusal here leaves its audit record (the pipeline's, or Reject's
// for a request that does not parse) and a log line.
HeldGate JudgeHeld(const GateParts& parts, policy::GateRequest request, std::string_view message);

// An allowed call that will not reach containerd after all (its caller
// left, its deadline passed, containerd is gone): the rewriter's Done, and
// its token uses given back.
void AbandonAllowed(const GateParts& parts, HeldGate* gate);

// An allowed call that containerd answered (or that broke off on the way):
// says how it ended, gives back token uses when containerd never ran it,
// runs the rewriter's Done and the observer. A non-OK result replaces
// containerd's answer. Whether it may block: ObserverMayBlock.
base::Status FinishAllowed(const GateParts& parts, HeldGate* gate, const AllowedEnd& end);
bool ObserverMayBlock(const GateParts& parts, const policy::GateRequest& request);

// A call refused before the stages ran (not served, malformed, too large,
// cancelled before its request was whole): one audit record and a log line.
// Returns `refusal`, for the answer.
base::Status RefuseUnjudged(const GateParts& parts, const policy::GateRequest& request,
                            base::Status refusal);

// The caller and what the request names, for a log line.
std::string Describe(const policy::GateRequest& request);

}  // namespace crigate::cri
