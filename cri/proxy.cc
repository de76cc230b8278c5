#include "cri/proxy.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <mutex>
#include <optional>

#include "cri/call_metrics.h"
#include "cri/gate_call.h"
#include "cri/grpc_status.h"
#include "cri/inspect.h"
#include "cri/log.h"
#include "cri/method_table.h"
#include "policy/audit_record.h"
#include "policy/base/text.h"

namespace crigate::cri {
namespace {

using Clock = std::chrono::steady_clock;

// Headers that belong to one HTTP/2 hop and are set by grpc itself; copying
// them onto the next hop would duplicate or contradict them.
bool HopHeader(const grpc::string_ref& key) {
  std::string_view k(key.data(), key.size());
  return k.empty() || k[0] == ':' || k.substr(0, 5) == "grpc-" || k == "content-type" ||
         k == "te" || k == "user-agent" || k == "host";
}

// Metadata that stops at the gate: a bearer token is for crigate only.
bool GateOnlyHeader(const grpc::string_ref& key) {
  return std::string_view(key.data(), key.size()) == "authorization";
}

// A path as it can be shown in a log line or a status message.
std::string Printable(std::string_view raw) { return base::Printable(raw, 200); }

using policy::StatusCodeName;

std::string ToString(const grpc::string_ref& s) { return std::string(s.data(), s.size()); }

// A message's bytes in one piece, for the parts that read or rewrite it
// (cri/inspect.h, cri/call_hooks.h take bytes, not grpc buffers). Only held
// and observed calls pay for the copy; requests are small.
std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  const grpc::Slice slice(bytes);  // copies
  return grpc::ByteBuffer(&slice, 1);
}

class ProxyCall;

// The containerd side of one proxied call.
class BackendLeg final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit BackendLeg(ProxyCall* call) : call_(call) {}
  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  ProxyCall* const call_;
};

// One call from kubelet/crictl. Client messages are relayed to containerd and
// containerd's back, one in flight each way; a gated call's first message is
// held until the pipeline decides. Deletes itself when both sides are done.
// containerd's status is returned once the caller has half-closed: every CRI
// method is unary or server-streaming, so that is at once.
class ProxyCall final : public grpc::ServerGenericBidiReactor {
 public:
  ProxyCall(ProxyService* service, grpc::GenericCallbackServerContext* ctx)
      : service_(service),
        ctx_(ctx),
        method_(ctx->method()),
        path_(ParseMethodPath(method_)),
        class_(ClassOf(service->options().classify, path_)),
        gated_(class_ != policy::MethodClass::kReadOnly),
        observed_(!gated_ && service->deps().observer != nullptr &&
                  service->options().observed_actions.count(std::string(path_.method)) > 0),
        leg_(this),
        start_(Clock::now()) {
    if (!path_.served) {
      // Not a CRI method: answered here, audited, never forwarded.
      RefuseLater(grpc::StatusCode::UNIMPLEMENTED,
                  fmt::format("crigate: {} is not served: crigate answers only the CRI methods "
                              "/runtime.v1.RuntimeService/<Method>, "
                              "/runtime.v1.ImageService/<Method> (and runtime.v1alpha2), spelled "
                              "exactly",
                              Printable(method_)));
      return;
    }
    for (const auto& [key, value] : ctx_->client_metadata()) {
      if (!HopHeader(key) && !GateOnlyHeader(key)) {
        backend_ctx_.AddMetadata(ToString(key), ToString(value));
      }
    }
    if (ctx_->deadline() != std::chrono::system_clock::time_point::max()) {
      backend_ctx_.set_deadline(ctx_->deadline());
    }
    if (!gated_) StartBackend();
    StartRead(&from_client_);
  }

  void OnReadDone(bool ok) override {
    if (ok && gated_ && !decided_) {
      decided_ = true;
      if (from_client_.Length() > service_->options().max_message_bytes) {
        RefuseLater(grpc::StatusCode::RESOURCE_EXHAUSTED,
                    fmt::format("crigate: the {} request is {} bytes, more than "
                                "server.max_message_bytes ({}, containerd's own limit)",
                                path_.method, from_client_.Length(),
                                service_->options().max_message_bytes));
        return;
      }
      service_->deps().work->Post([this] { Decide(); });
      return;
    }
    if (ok) {
      if (observed_ && !first_request_) first_request_ = from_client_;
      leg_.StartWrite(&from_client_);
      return;
    }
    if (backend_started_) {
      leg_.StartWritesDone();
      leg_.RemoveHold();  // the write side is done
    } else if (!decided_) {
      // A held call that ended before its request arrived: cancelled by the
      // caller, refused by grpc (a message far over the limit), or
      // half-closed with no message. Still one audit record.
      decided_ = true;
      if (ctx_->IsCancelled()) {
        RefuseLater(grpc::StatusCode::CANCELLED,
                    fmt::format("crigate: {} ended before its request arrived (cancelled, or a "
                                "message over grpc's limit)",
                                path_.method));
      } else {
        RefuseLater(grpc::StatusCode::INVALID_ARGUMENT,
                    fmt::format("crigate: {} arrived with no request message", path_.method));
      }
    }
  }

  void OnWriteDone(bool ok) override {
    if (ok) {
      leg_.StartRead(&to_client_);
    } else {
      backend_ctx_.TryCancel();  // the caller is gone; stop containerd's side too
      leg_.RemoveHold();         // and read no more from it
    }
  }

  void OnCancel() override { backend_ctx_.TryCancel(); }

  void OnDone() override {
    if (!gated_) {
      log::Debug(
          "pass {} -> {} ({} us)", method_, StatusCodeName(FromGrpc(final_code_)),
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_).count());
    }
    Release();
  }

  void BackendInitialMetadata(bool ok) {
    bool write_now = false;
    {
      std::lock_guard lock(mu_);
      if (ok) {
        const auto& headers = backend_ctx_.GetServerInitialMetadata();
        backend_sent_headers_ = !headers.empty();
        for (const auto& [key, value] : headers) {
          if (!HopHeader(key)) ctx_->AddInitialMetadata(ToString(key), ToString(value));
        }
      }
      initial_metadata_done_ = true;
      write_now = write_waiting_;
      write_waiting_ = false;
    }
    if (write_now) StartWrite(&to_client_);
  }

  void BackendRead(bool ok) {
    if (!ok) {
      leg_.RemoveHold();  // end of containerd's stream; its status comes in BackendDone
      return;
    }
    if (gated_) last_response_ = to_client_;
    {
      // containerd's initial metadata must be added before the first write.
      std::lock_guard lock(mu_);
      if (!initial_metadata_done_) {
        write_waiting_ = true;
        return;
      }
    }
    StartWrite(&to_client_);
  }

  void BackendWrote(bool ok) {
    if (ok) {
      StartRead(&from_client_);
    } else {
      leg_.RemoveHold();  // containerd's side is broken: forward no more
    }
  }

  void BackendDone(const grpc::Status& status) {
    for (const auto& [key, value] : backend_ctx_.GetServerTrailingMetadata()) {
      // Status details travel in the status itself (Finish re-adds them).
      if (!HopHeader(key)) ctx_->AddTrailingMetadata(ToString(key), ToString(value));
    }
    grpc::Status answer = status;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !ReachedBackend()) {
      answer = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            fmt::format("crigate: containerd is unavailable at {}: {}",
                                        service_->options().backend_target, status.error_message()),
                            status.error_details());
    }
    if (gated_ && !ObserverMayBlock(service_->parts(), gate_.request)) {
      FinishOnce(Observed(answer));
      Release();
      return;
    }
    if (gated_) {
      service_->deps().work->Post([this, answer] {
        FinishOnce(Observed(answer));
        Release();
      });
      return;
    }
    FinishOnce(answer);
    if (observed_ && answer.ok() && first_request_) Notify(answer);
    Release();
  }

  // containerd's answer to an allowed call, unless the observer replaces it.
  grpc::Status Observed(const grpc::Status& answer) {
    std::optional<std::string> last;
    if (last_response_) last = Flatten(*last_response_);
    base::Status replaced = FinishAllowed(
        service_->parts(), &gate_, {FromGrpc(answer), ReachedBackend(), last ? &*last : nullptr});
    return replaced.ok() ? answer : ToGrpc(replaced);
  }

  // Tells the observer about a non-gated call; the call may be gone by the
  // time it runs, so the task owns copies of what it needs.
  void Notify(const grpc::Status& answer) {
    policy::GateRequest request;
    request.method = method_;
    request.action = std::string(path_.method);
    request.method_class = class_;
    request.caller = service_->deps().peers->Lookup(ctx_->peer());
    CallObserver* observer = service_->deps().observer;
    service_->deps().work->Post([observer, request, buffer = *first_request_, answer]() mutable {
      if (InspectRequest(request.action, Flatten(buffer), &request).ok()) {
        observer->AfterForwarded(request, FromGrpc(answer));
      }
    });
  }

 private:
  // True when containerd sent its headers, i.e. the call got there.
  bool ReachedBackend() {
    std::lock_guard lock(mu_);
    return backend_sent_headers_;
  }

  void StartBackend() {
    {
      std::lock_guard lock(mu_);
      ++outstanding_;
    }
    backend_started_ = true;
    service_->stub().PrepareBidiStreamingCall(&backend_ctx_, method_, grpc::StubOptions(), &leg_);
    // Two holds keep the backend call (and its OnDone) alive while this call
    // may still use it: one for the write side, released once the caller's
    // messages are all forwarded (or can no longer be), one for the read side,
    // released at the end of containerd's stream (or when the caller is gone).
    // Without them a server-side callback could touch a finished client call.
    leg_.AddMultipleHolds(2);
    leg_.StartRead(&to_client_);
    leg_.StartCall();
  }

  void GateInit() {
    policy::GateRequest& request = gate_.request;
    request.method = method_;
    request.action = std::string(path_.method);
    request.method_class = class_;
    request.caller = service_->deps().peers->Lookup(ctx_->peer());
    for (const auto& [key, value] : ctx_->client_metadata()) {
      std::string_view k(key.data(), key.size()), v(value.data(), value.size());
      constexpr std::string_view kBearer = "Bearer ";
      if (k == "authorization" && v.substr(0, kBearer.size()) == kBearer) {
        request.bearer_token = std::string(v.substr(kBearer.size()));
      }
    }
  }

  // Runs on the work queue: inspect, decide, then forward or refuse.
  void Decide() {
    GateInit();
    const std::string message = Flatten(from_client_);
    gate_ = JudgeHeld(service_->parts(), std::move(gate_.request), message);
    if (!gate_.status.ok()) {
      FinishOnce(ToGrpc(gate_.status));
      return;
    }
    if (ctx_->IsCancelled()) {
      AbandonAllowed(service_->parts(), &gate_);
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    if (gate_.replaced) from_client_ = ToByteBuffer(gate_.replacement);
    StartBackend();
    leg_.StartWrite(&from_client_);
  }

  // Refuse, from the work queue: the audit write may block, and this may be
  // a grpc callback thread.
  void RefuseLater(grpc::StatusCode code, std::string reason) {
    service_->deps().work->Post([this, code, reason = std::move(reason)]() mutable {
      GateInit();
      Refuse(code, std::move(reason));
    });
  }

  // Refused before the stages ran (malformed request): still one audit record.
  void Refuse(grpc::StatusCode code, std::string reason) {
    FinishOnce(ToGrpc(RefuseUnjudged(service_->parts(), gate_.request,
                                     base::Status(FromGrpc(code), std::move(reason)))));
  }

  void FinishOnce(const grpc::Status& status) {
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      finished_ = true;
      final_code_ = status.error_code();
    }
    CallMetrics::Instance().Record(
        path_.method,
        !path_.served                              ? CallMetrics::Class::kUnserved
        : class_ == policy::MethodClass::kReadOnly ? CallMetrics::Class::kReadOnly
        : class_ == policy::MethodClass::kGated    ? CallMetrics::Class::kGated
                                                   : CallMetrics::Class::kMutating,
        FromGrpc(status.error_code()), path_.served && !gated_, Clock::now() - start_);
    Finish(status);
  }

  void Release() {
    bool last;
    {
      std::lock_guard lock(mu_);
      last = --outstanding_ == 0;
    }
    if (last) delete this;
  }

  ProxyService* const service_;
  grpc::GenericCallbackServerContext* const ctx_;
  const std::string method_;
  const MethodPath path_;  // views into method_
  const policy::MethodClass class_;
  const bool gated_;     // held for the pipeline: mutating or gated
  const bool observed_;  // not gated, but the observer wants its outcome
  grpc::ClientContext backend_ctx_;
  BackendLeg leg_;
  const Clock::time_point start_;

  // Touched by one callback at a time (grpc allows one read and one write in
  // flight per side, and this class chains them), so no lock.
  grpc::ByteBuffer from_client_;
  grpc::ByteBuffer to_client_;
  bool decided_ = false;
  bool backend_started_ = false;
  HeldGate gate_;  // a held call's request, decision and what is forwarded
  std::optional<grpc::ByteBuffer> last_response_;
  std::optional<grpc::ByteBuffer> first_request_;  // observed calls only

  std::mutex mu_;
  bool initial_metadata_done_ = false;                  // guarded by mu_
  bool write_waiting_ = false;                          // guarded by mu_
  bool backend_sent_headers_ = false;                   // guarded by mu_
  bool finished_ = false;                               // guarded by mu_
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;  // guarded by mu_
  int outstanding_ = 1;  // guarded by mu_: server OnDone, plus backend OnDone
};

void BackendLeg::OnReadInitialMetadataDone(bool ok) { call_->BackendInitialMetadata(ok); }
void BackendLeg::OnReadDone(bool ok) { call_->BackendRead(ok); }
void BackendLeg::OnWriteDone(bool ok) { call_->BackendWrote(ok); }
void BackendLeg::OnDone(const grpc::Status& status) { call_->BackendDone(status); }

}  // namespace

ProxyService::ProxyService(ProxyOptions options, ProxyDeps deps)
    : options_(std::move(options)), deps_(std::move(deps)), stub_(deps_.backend) {}

grpc::ServerGenericBidiReactor* ProxyService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new ProxyCall(this, ctx);
}

grpc::ChannelArguments BackendChannelArguments() {
  grpc::ChannelArguments args;
  // containerd restarts are routine on a gateway: retry the connection soon
  // rather than after grpc's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // The endpoints enforce their own limits; the hop in between must not add one.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return args;
}

}  // namespace crigate::cri
