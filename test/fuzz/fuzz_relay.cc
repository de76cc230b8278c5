// The event-loop front end (cri/h2/relay.h) fed with HTTP/2 frames from
// both sides: the caller's connection and containerd's, interleaved as the
// input says, on socketpairs, with the loop driven from this one thread.
//
// Input: one mode byte, then chunks of [side][length: 2 bytes, little
// endian][bytes]; side 0 is the caller, 1 is containerd. The connection
// prefaces (the caller's magic and SETTINGS, containerd's SETTINGS) are
// sent by the target, so the input starts at the frames.
// Mode bits: 1 deny held calls; 2 replace the message; 4 after runs inline;
// 8 after replaces containerd's status; 16 answer held calls locally
// (Verdict::local_answer, as Health/Check is).
//
// Besides "no crash, no leak, no undefined behaviour", one property: every
// allowed call ends exactly once, by its undo (never relayed) or its after
// (relayed) -- a token's use given back, an approval removed.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cri/h2/relay.h"

namespace {

using crigate::base::Status;
using crigate::cri::h2::CallEnd;
using crigate::cri::h2::HeldCall;
using crigate::cri::h2::Relay;
using crigate::cri::h2::RelayOptions;
using crigate::cri::h2::Route;
using crigate::cri::h2::Verdict;

constexpr char kClientMagic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kEmptySettings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

struct Counts {
  int allowed = 0;
  int afters = 0;
  int undos = 0;
};

void Send(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;  // full or closed: the rest is dropped
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Discard(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;

  Counts counts;
  std::vector<int> backends;  // our ends of containerd's connections; the last is live
  RelayOptions options;
  options.backend_socket = "/nonexistent/containerd.sock";
  options.max_message_bytes = 1 << 16;
  options.route = [](std::string_view path) {
    if (path == "/runtime.v1.RuntimeService/Version") return Route::kRelay;
    if (path.rfind("/runtime.v1.RuntimeService/", 0) == 0) return Route::kHold;
    return Route::kRefuse;
  };
  options.post = [](std::function<void()> task) { task(); };
  options.refused = [](const HeldCall&, const Status&) {};
  options.decide = [&counts, mode](const HeldCall& call) {
    Verdict verdict;
    if ((mode & 1) != 0) {
      verdict.status = Status::PermissionDenied("denied by the fuzz target");
      return verdict;
    }
    if ((mode & 16) != 0) {
      // Answered by the relay itself (as Health/Check is): no after, no undo.
      verdict.local_answer = call.message;
      return verdict;
    }
    ++counts.allowed;
    if ((mode & 2) != 0) verdict.replacement = call.message + "x";
    verdict.undo = [&counts] { ++counts.undos; };
    verdict.after_inline = (mode & 4) != 0;
    verdict.after = [&counts, mode](const CallEnd&) {
      ++counts.afters;
      return (mode & 8) != 0 ? Status::PermissionDenied("replaced by the fuzz target")
                             : Status::OK();
    };
    return verdict;
  };
  options.connect_backend = [&backends]() -> int {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    backends.push_back(sv[1]);
    Send(sv[1], kEmptySettings, sizeof(kEmptySettings));
    return sv[0];
  };

  auto created = Relay::Create(options);
  if (!created.ok()) abort();
  std::unique_ptr<Relay> relay = std::move(created).value();
  int client[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, client) != 0) abort();
  relay->Adopt(client[0]);
  Send(client[1], kClientMagic, sizeof(kClientMagic) - 1);
  Send(client[1], kEmptySettings, sizeof(kEmptySettings));

  auto turn = [&] {
    for (int i = 0; i < 3; ++i) relay->RunOnce(0);
    Discard(client[1]);
    for (int fd : backends) Discard(fd);
  };
  turn();
  while (size >= 3) {
    const int side = data[0] & 1;
    size_t n = data[1] | (size_t{data[2]} << 8);
    data += 3;
    size -= 3;
    if (n > size) n = size;
    if (side == 0) {
      Send(client[1], data, n);
    } else if (!backends.empty()) {
      Send(backends.back(), data, n);
    }
    data += n;
    size -= n;
    turn();
  }
  // Both sides hang up; the loop sees it, then the relay goes.
  close(client[1]);
  for (int fd : backends) close(fd);
  for (int i = 0; i < 4; ++i) relay->RunOnce(0);
  relay.reset();
  if (counts.allowed != counts.afters + counts.undos) {
    __builtin_trap();  // an allowed call ended twice, or never
  }
  return 0;
}
