// The event-loop front end's core (issue 13), first step: one thread, one
// epoll set, HTTP/2 terminated on both hops with libnghttp2.
//
// Every caller connection gets a connection of its own to containerd, and
// its streams are mapped 1:1 onto it. A request's header block is judged
// (grpc_wire.h) and its :path must be one the caller may reach (`served`);
// otherwise the stream is answered trailers-only by the relay itself and
// nothing reaches containerd. Headers, DATA and trailers are re-emitted as
// they came (less `authorization`, which is for the gate); flow-control
// credit is handed back to a sender only as the other side takes the bytes;
// RST_STREAM goes across both ways.
//
// A held stream (Route::kHold, the gated methods) reaches containerd only
// once its first message is complete and `decide`, on a worker, allowed it
// (or it is answered by crigate itself: Verdict::local_answer);
// the verdict comes back to the loop through the eventfd. The held bytes are
// taken off the caller's flow-control window as they arrive (bounded by
// max_message_bytes), so a held stream never stalls its connection. A held
// stream carries one message: more is refused before the decision, and
// resets both hops after it.
//
// After the call: an allowed call's Verdict::after runs once it ended,
// however it ended, and before containerd's status reaches the caller (so
// it may replace it); the relay's own refusals go to `refused` (for the
// audit). A held call's grpc-timeout reaches containerd less the time the
// decision took. Drain() sends GOAWAY on every connection
// and lets the streams in flight finish.
//
//   auto relay = Relay::Create({"/run/containerd/containerd.sock", route, decide});
//   std::thread loop([&] { (*relay)->Run(); });
//   listener.Run([&](int fd) { (*relay)->Adopt(fd); });
//   (*relay)->Stop(); loop.join();
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cri/h2/grpc_wire.h"
#include "policy/base/status.h"

namespace crigate::cri::h2 {

// What the relay does with a stream, by its :path.
enum class Route {
  kRefuse,  // answered UNIMPLEMENTED by the relay; nothing reaches containerd
  kRelay,   // relayed at once, on the loop thread
  kHold,    // held until its first message is complete, then decided
};

// A held stream's request, as the decision sees it.
struct HeldCall {
  std::string path;
  RequestHead head;     // bearer_token included
  std::string message;  // the first message, decompressed (MessageToJudge)
  int peer_pid = -1;    // the caller's credentials (SO_PEERCRED at Adopt)
  int peer_uid = -1;
  int peer_gid = -1;
};

// How an allowed, relayed call ended.
struct CallEnd {
  // containerd's grpc-status and grpc-message, or the relay's own when the
  // call broke off (CANCELLED: the caller left; UNAVAILABLE: containerd's
  // connection was lost or it reset the stream).
  base::Status answer;
  // Whether containerd may have run the call: false only when it certainly
  // did not (it refused the stream, RFC 9113 section 8.7), so that a token's
  // use is given back only then.
  bool reached_backend = false;
  // containerd's last message, decompressed; null when it sent none (or
  // more than max_message_bytes of answer).
  const std::string* last_response = nullptr;
};

// How a stream ended for its caller (RelayOptions::ended).
struct StreamEnd {
  std::string_view path;  // empty when its header block was not readable
  Route route = Route::kRefuse;
  base::Code outcome = base::Code::OK;  // the grpc-status the caller got; CANCELLED: reset
  bool answered_by_relay = false;       // the relay's own answer, not containerd's
  std::chrono::nanoseconds elapsed{0};  // from its header block
};

struct Verdict {
  base::Status status;  // OK: relay the call; otherwise its answer
  // Allowed with a new message (e.g. a token stripped): relayed
  // uncompressed in place of the caller's.
  std::optional<std::string> replacement;
  // Allowed, but the call could not be relayed after all (the caller went
  // away while it was decided, or containerd is gone): runs on the loop
  // thread, e.g. to give back a token's use.
  std::function<void()> undo;
  // Allowed and relayed: runs once the call ended, however it ended; exactly
  // one of undo and after runs for an allowed call. A non-OK result replaces
  // containerd's status, when the caller is still there to get it. Runs on a
  // worker, or on the loop thread when after_inline (it must not block then).
  std::function<base::Status(const CallEnd&)> after;
  bool after_inline = false;
  // Answered by crigate itself (grpc.health.v1): with status OK, this
  // message (unframed, uncompressed) is the answer, and nothing reaches
  // containerd; undo and after are not run.
  std::optional<std::string> local_answer;
};

struct RelayOptions {
  std::string backend_socket;  // containerd's unix socket
  std::string backend_name;    // containerd, as messages name it; empty: backend_socket
  // The held-message limit, as messages name it (a config key).
  std::string limit_name = "the limit for a held request";
  // What to do with a :path. Unset: refuse everything.
  std::function<Route(std::string_view path)> route;
  // Decides a held call. Runs on whatever `post` runs it on (a worker: the
  // decision may block), never on the loop thread. Unset: held calls are
  // refused.
  std::function<Verdict(const HeldCall&)> decide;
  // Runs a task on a worker. Unset: a thread per decision.
  std::function<void(std::function<void()>)> post;
  // A stream the relay answered itself (not served, a malformed header
  // block or message, too large: on the loop thread, before the answer is
  // sent; the caller gone before its request was whole: on a worker).
  // `message` is empty when there was none.
  std::function<void(const HeldCall&, const base::Status& refusal)> refused;
  // Told once per stream when the caller's side of it closed, on the loop
  // thread (for the metrics: it must return at once). Unset: nothing.
  std::function<void(const StreamEnd&)> ended;
  // Opens a non-blocking connection to containerd and returns its fd, or -1
  // with errno set. Unset: connects to backend_socket. (The fuzz target
  // hands the relay one end of a socketpair.)
  std::function<int()> connect_backend;
  // The largest first message a held stream may carry.
  size_t max_message_bytes = 16 << 20;
};

class Relay final {
 public:
  static base::Result<std::unique_ptr<Relay>> Create(RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Thread-safe: hands an accepted, non-blocking caller connection to the
  // loop, which owns it from now on.
  void Adopt(int fd);
  // Serves until Stop() (or a drain ends); closes every connection when it
  // returns.
  void Run();
  // One round of the loop: waits up to timeout_ms for events and handles
  // them. False once the loop should end (Stop, or a drain finished); the
  // connections stay open until Run() or the destructor. For driving the
  // relay from one thread (the fuzz target).
  bool RunOnce(int timeout_ms);
  // Thread-safe: stops the loop now; the connections close.
  void Stop();
  // Thread-safe: sends GOAWAY on every connection, takes no new stream, and
  // returns from Run() once the streams in flight ended, or after `grace`.
  void Drain(std::chrono::milliseconds grace);

  struct Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crigate::cri::h2
