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
// once its first message is complete and `decide`, on a worker, allowed it;
// the verdict comes back to the loop through the eventfd. The held bytes are
// taken off the caller's flow-control window as they arrive (bounded by
// max_message_bytes), so a held stream never stalls its connection. A held
// stream carries one message: more is refused before the decision, and
// resets both hops after it.
//
// Not yet here (the daemon still serves with cri/proxy.cc): the observer
// and rewriter hooks, deadlines enforced by the relay, GOAWAY and drain,
// containerd restarts beyond answering UNAVAILABLE.
//
//   auto relay = Relay::Create({"/run/containerd/containerd.sock", route, decide});
//   std::thread loop([&] { (*relay)->Run(); });
//   listener.Run([&](int fd) { (*relay)->Adopt(fd); });
//   (*relay)->Stop(); loop.join();
#pragma once

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

struct Verdict {
  base::Status status;  // OK: relay the call; otherwise its answer
  // Allowed with a new message (e.g. a token stripped): relayed
  // uncompressed in place of the caller's.
  std::optional<std::string> replacement;
  // Allowed, but the call could not be relayed after all (the caller went
  // away while it was decided, or containerd is gone): runs on the loop
  // thread, e.g. to give back a token's use.
  std::function<void()> undo;
};

struct RelayOptions {
  std::string backend_socket;  // containerd's unix socket
  // What to do with a :path. Unset: refuse everything.
  std::function<Route(std::string_view path)> route;
  // Decides a held call. Runs on whatever `post` runs it on (a worker: the
  // decision may block), never on the loop thread. Unset: held calls are
  // refused.
  std::function<Verdict(const HeldCall&)> decide;
  // Runs a task on a worker. Unset: a thread per decision.
  std::function<void(std::function<void()>)> post;
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
  // Serves until Stop(); closes every connection when it returns.
  void Run();
  // Thread-safe.
  void Stop();

  struct Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crigate::cri::h2
