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
// Not yet here (the daemon still serves with cri/proxy.cc): held gated
// streams and their decisions, the observer and rewriter hooks, deadlines
// enforced by the relay, GOAWAY and drain, containerd restarts beyond
// answering UNAVAILABLE.
//
//   auto relay = Relay::Create({"/run/containerd/containerd.sock", served});
//   std::thread loop([&] { (*relay)->Run(); });
//   listener.Run([&](int fd) { (*relay)->Adopt(fd); });
//   (*relay)->Stop(); loop.join();
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "policy/base/status.h"

namespace crigate::cri::h2 {

struct RelayOptions {
  std::string backend_socket;  // containerd's unix socket
  // Whether a request for this :path may be relayed. Unset: none.
  std::function<bool(std::string_view path)> served;
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
