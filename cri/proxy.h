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

#include "cri/call_hooks.h"
#include "cri/peer_registry.h"
#include "cri/work_queue.h"
#include "policy/gate.h"

namespace crigate::cri {

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
