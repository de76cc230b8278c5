// What the front end tells the daemon's parts about a call, and lets them
// change: the observer hears how calls ended, the rewriter runs around an
// allowed gated call. No gRPC here: a status is crigate's own (containerd's
// answer as its code and message), a message is its serialized payload, so
// any front end can call them and the parts that implement them need not
// include grpc++.
#pragma once

#include <string>
#include <string_view>

#include "policy/base/status.h"
#include "policy/gate.h"

namespace crigate::cri {

// Told how calls ended, for the parts that follow containers' lives (the
// monitor) or check a result (a pulled image's digest). Runs on a work-queue
// thread, so it may call containerd.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // A gated call that the gate allowed, after containerd answered `answer`;
  // last_response is containerd's last message, if it sent one. OK keeps
  // containerd's answer as it is (details and trailers included); a non-OK
  // status replaces it (e.g. a pulled image whose digest is not the pinned
  // one).
  virtual base::Status AfterAllowed(const policy::GateRequest& request,
                                    const policy::Decision& decision, const base::Status& answer,
                                    const std::string* last_response) = 0;
  // An observed call that is not gated, after its answer went back (so it
  // cannot change it). request holds what InspectRequest read.
  virtual void AfterForwarded(const policy::GateRequest& request, const base::Status& answer) {}
  // False when AfterAllowed for this request returns at once (no I/O): it is
  // then run inline, sparing the caller a hop through the work queue.
  virtual bool MayBlock(const policy::GateRequest& request) const { return true; }
};

// Runs for an allowed gated call just before it is forwarded, and again
// once it has ended, however it ended: the no-bypass approval is written
// and removed here. Rewrite may replace the request's payload (*rewritten,
// *out); an error refuses the call instead of forwarding it.
class RequestRewriter {
 public:
  virtual ~RequestRewriter() = default;
  virtual base::Status Rewrite(const policy::GateRequest& request, const policy::Decision& decision,
                               std::string_view in, std::string* out, bool* rewritten) = 0;
  // Must return at once (no network I/O): it runs on the front end's threads.
  virtual void Done(const policy::GateRequest& request, const policy::Decision& decision) {}
};

}  // namespace crigate::cri
