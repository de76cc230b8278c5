// The front end: one generic gRPC service that takes every path, answers
// itself for anything that is not a CRI method (cri/method_table.h), and
// forwards CRI calls to containerd as raw bytes: read-only ones at once,
// mutating and gated ones once the pipeline allowed them.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/channel_arguments.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "cri/peer_registry.h"
#include "cri/work_queue.h"
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

// How much of the gate a served method passes (PolicyConfig::ClassOf).
using MethodClassifier = std::function<policy::MethodClass(policy::CriService, std::string_view)>;

struct ProxyOptions {
  std::string backend_target;  // for messages: "unix:///run/containerd/containerd.sock"
  // Read-only methods are relayed at once; mutating and gated ones are held
  // until the pipeline decides. Unset: everything is gated.
  MethodClassifier classify;
  // The largest request a held call may carry: containerd's own limit, so the
  // gate never allows (and uses a token for) what containerd then refuses.
  size_t max_message_bytes = 16 << 20;
  // Actions, gated or not, whose outcome the observer wants to know.
  std::set<std::string> observed_actions = {"StartContainer", "StopContainer", "RemoveContainer",
                                            "PullImage"};
};

// Constant after construction; all members must outlive the server.
struct ProxyDeps {
  std::shared_ptr<grpc::Channel> backend;
  const PeerRegistry* peers = nullptr;
  policy::Pipeline* pipeline = nullptr;
  WorkQueue* work = nullptr;            // runs pipeline decisions and observers
  CallObserver* observer = nullptr;     // optional
  RequestRewriter* rewriter = nullptr;  // optional
};

class ProxyService final : public grpc::CallbackGenericService {
 public:
  ProxyService(ProxyOptions options, ProxyDeps deps);
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  const ProxyOptions& options() const { return options_; }
  const ProxyDeps& deps() const { return deps_; }
  grpc::GenericStub& stub() { return stub_; }

 private:
  const ProxyOptions options_;
  const ProxyDeps deps_;
  grpc::GenericStub stub_;
};

// Channel arguments for the backend: reconnect quickly after containerd
// restarts, and let messages as large as the endpoints allow through.
grpc::ChannelArguments BackendChannelArguments();

}  // namespace crigate::cri
