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
#include "cri/front_end_options.h"
#include "cri/gate_call.h"
#include "cri/peer_registry.h"
#include "cri/work_queue.h"
#include "policy/gate.h"

namespace crigate::cri {

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
  GateParts parts() const { return {deps_.pipeline, deps_.rewriter, deps_.observer}; }

 private:
  const ProxyOptions options_;
  const ProxyDeps deps_;
  grpc::GenericStub stub_;
};

// Channel arguments for the backend: reconnect quickly after containerd
// restarts, and let messages as large as the endpoints allow through.
grpc::ChannelArguments BackendChannelArguments();

}  // namespace crigate::cri
