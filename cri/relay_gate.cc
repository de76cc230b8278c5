#include "cri/relay_gate.h"

#include <memory>

#include "cri/call_metrics.h"
#include "cri/method_table.h"

namespace crigate::cri {
namespace {

// What the relay knows of a held call, as the gate's request.
policy::GateRequest RequestOf(const h2::HeldCall& call, const MethodClassifier& classify) {
  const MethodPath path = ParseMethodPath(call.path);
  policy::GateRequest request;
  request.method = call.path;
  request.action = std::string(path.method);
  request.method_class = ClassOf(classify, path);
  if (call.peer_pid >= 0) {
    request.caller.pid = call.peer_pid;
    request.caller.uid = static_cast<uid_t>(call.peer_uid);
    request.caller.gid = static_cast<gid_t>(call.peer_gid);
    request.caller.known = true;
  }
  request.bearer_token = call.head.bearer_token;
  return request;
}

// Health/Check: crigate's own answer, or its error; nothing reaches
// containerd either way.
h2::Verdict AnswerHealth(const HealthService& health, const h2::HeldCall& call) {
  h2::Verdict verdict;
  base::Result<std::string> answer = health.Check(call.message);
  if (answer.ok()) {
    verdict.local_answer = *std::move(answer);
  } else {
    verdict.status = answer.status();
  }
  return verdict;
}

}  // namespace

base::Result<std::string> UnixSocketPath(const std::string& endpoint) {
  // "unix://" + path, or else "unix:" + path: one or the other, so that
  // "unix://" alone is not read as the path "//".
  const std::string_view prefix = endpoint.rfind("unix://", 0) == 0 ? "unix://" : "unix:";
  if (endpoint.rfind(prefix, 0) == 0) {
    std::string path = endpoint.substr(prefix.size());
    if (!path.empty() && path[0] == '/') return path;
  }
  return base::Status::InvalidArgument(
      "\"" + endpoint + "\" is not a unix socket address with an absolute path, such as " +
      "\"unix:///run/containerd/containerd.sock\"");
}

base::Result<h2::RelayOptions> RelayGateOptions(const ProxyOptions& options, const GateParts& parts,
                                                WorkQueue* work, const HealthService* health) {
  auto socket = UnixSocketPath(options.backend_target);
  if (!socket.ok()) return socket.status();
  h2::RelayOptions relay;
  relay.backend_socket = *std::move(socket);
  relay.backend_name = options.backend_target;
  relay.max_message_bytes = options.max_message_bytes;
  relay.limit_name = "server.max_message_bytes";
  const MethodClassifier classify = options.classify;
  relay.route = [classify, health](std::string_view path) {
    if (health != nullptr && path == kHealthCheckPath) return h2::Route::kHold;
    const MethodPath parsed = ParseMethodPath(path);
    if (!parsed.served) return h2::Route::kRefuse;
    return ClassOf(classify, parsed) == policy::MethodClass::kReadOnly ? h2::Route::kRelay
                                                                       : h2::Route::kHold;
  };
  relay.ended = [classify, &metrics = CallMetrics::Instance()](const h2::StreamEnd& end) {
    const MethodPath parsed = ParseMethodPath(end.path);
    CallMetrics::Class method_class = CallMetrics::Class::kUnserved;
    if (end.route == h2::Route::kRelay) {
      method_class = CallMetrics::Class::kReadOnly;
    } else if (end.route == h2::Route::kHold && end.path == kHealthCheckPath) {
      method_class = CallMetrics::Class::kHealth;
    } else if (end.route == h2::Route::kHold) {
      method_class = ClassOf(classify, parsed) == policy::MethodClass::kGated
                         ? CallMetrics::Class::kGated
                         : CallMetrics::Class::kMutating;
    }
    metrics.Record(parsed.method, method_class, end.outcome,
                   end.route == h2::Route::kRelay && !end.answered_by_relay, end.elapsed);
  };
  relay.post = [work](std::function<void()> task) { work->Post(std::move(task)); };
  relay.refused = [parts, classify](const h2::HeldCall& call, const base::Status& refusal) {
    base::Status answered = RefuseUnjudged(parts, RequestOf(call, classify), refusal);
    (void)answered;
  };
  relay.decide = [parts, classify, health](const h2::HeldCall& call) {
    if (health != nullptr && call.path == kHealthCheckPath) return AnswerHealth(*health, call);
    auto gate =
        std::make_shared<HeldGate>(JudgeHeld(parts, RequestOf(call, classify), call.message));
    h2::Verdict verdict;
    verdict.status = gate->status;
    if (!gate->status.ok()) return verdict;
    if (gate->replaced) verdict.replacement = gate->replacement;
    // On the loop thread, rarely (the caller left while it was decided):
    // one small write to the token-use store, one approval file removed.
    verdict.undo = [parts, gate] { AbandonAllowed(parts, gate.get()); };
    verdict.after_inline = !ObserverMayBlock(parts, gate->request);
    verdict.after = [parts, gate](const h2::CallEnd& end) {
      return FinishAllowed(parts, gate.get(), {end.answer, end.reached_backend, end.last_response});
    };
    return verdict;
  };
  return relay;
}

}  // namespace crigate::cri
