// What the front end tells the daemon's parts about a call, and lets them
// change: the observer hears how calls ended, the rewriter runs around an
// allowed gated call. Kept apart from cri/proxy.h so the parts that
// implement them need not include the gRPC server and stub machinery.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "policy/gate.h"

namespace crigate::cri {

// Told how calls ended, for the parts that follow containers' lives (the
// monitor) or check a result (a pulled image's digest). Runs on a work-queue
// thread, so it may call containerd.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // A gated call that the gate allowed, after containerd answered. Returning
  // a non-OK status replaces containerd's answer (e.g. a pulled image whose
  // digest is not the pinned one).
  virtual grpc::Status AfterAllowed(const policy::GateRequest& request,
                                    const policy::Decision& decision, const grpc::Status& status,
                                    const grpc::ByteBuffer* last_response) = 0;
  // An observed call that is not gated, after its answer went back (so it
  // cannot change it). request holds what InspectRequest read.
  virtual void AfterForwarded(const policy::GateRequest& request, const grpc::Status& status) {}
  // False when AfterAllowed for this request returns at once (no I/O): it is
  // then run inline, sparing the caller a hop through the work queue.
  virtual bool MayBlock(const policy::GateRequest& request) const { return true; }
};

// Runs for an allowed gated call just before it is forwarded, and again
// once it has ended, however it ended: the no-bypass approval is written
// and removed here. Rewrite may replace the request's bytes (*rewritten);
// an error refuses the call instead of forwarding it.
class RequestRewriter {
 public:
  virtual ~RequestRewriter() = default;
  virtual grpc::Status Rewrite(const policy::GateRequest& request, const policy::Decision& decision,
                               const grpc::ByteBuffer& in, grpc::ByteBuffer* out,
                               bool* rewritten) = 0;
  // Must return at once (no network I/O): it runs on grpc's threads.
  virtual void Done(const policy::GateRequest& request, const policy::Decision& decision) {}
};

}  // namespace crigate::cri
