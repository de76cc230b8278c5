// crigate-relay-bench: the event-loop relay (cri/h2/relay.h) alone on a
// socket, in front of containerd, for scripts and benchmarks that measure
// the hop it adds. Read-only CRI methods are relayed; every other path,
// gated and mutating methods included, is refused: this tool never lets a
// mutating call through, and it is no front end to run a node with.
//
// Usage: crigate-relay-bench --listen SOCK --backend SOCK
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "cri/h2/relay.h"
#include "cri/method_table.h"
#include "cri/unix_listener.h"
#include "policy/actions.h"

namespace {

crigate::cri::h2::Relay* g_relay = nullptr;
crigate::cri::UnixListener* g_listener = nullptr;

void OnSignal(int) {
  if (g_relay != nullptr) g_relay->Stop();
  if (g_listener != nullptr) g_listener->Stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen, backend;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
    if (std::strcmp(argv[i], "--backend") == 0) backend = argv[i + 1];
  }
  if (listen.empty() || backend.empty()) {
    (void)std::fprintf(stderr, "usage: crigate-relay-bench --listen SOCK --backend SOCK\n");
    return 2;
  }
  namespace h2 = crigate::cri::h2;
  h2::RelayOptions options;
  options.backend_socket = backend;
  options.route = [](std::string_view path) {
    const crigate::cri::MethodPath method = crigate::cri::ParseMethodPath(path);
    return method.served && crigate::policy::IsReadOnlyAction(method.method) ? h2::Route::kRelay
                                                                             : h2::Route::kRefuse;
  };
  auto relay = h2::Relay::Create(options);
  if (!relay.ok()) {
    (void)std::fprintf(stderr, "crigate-relay-bench: %s\n", relay.error().c_str());
    return 1;
  }
  crigate::cri::SocketOptions socket;
  socket.path = listen;
  socket.mode = 0600;
  auto listener = crigate::cri::UnixListener::Open(socket);
  if (!listener.ok()) {
    (void)std::fprintf(stderr, "crigate-relay-bench: %s\n", listener.error().c_str());
    return 1;
  }
  g_relay = relay->get();
  g_listener = listener->get();
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  std::thread loop([&] { (*relay)->Run(); });
  (*listener)->Run([&](int fd) { (*relay)->Adopt(fd); });
  (*relay)->Stop();
  loop.join();
  return 0;
}
