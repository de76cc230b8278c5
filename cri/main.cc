// crigate: the gate on the CRI socket. See README.md for how to run it.
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include <sys/resource.h>

#include "cri/daemon_config.h"
#include "cri/follow_up.h"
#include "cri/log.h"
#include "cri/peer_registry.h"
#include "cri/proxy.h"
#include "cri/unix_listener.h"
#include "cri/work_queue.h"
#include "monitor/monitor.h"

namespace crigate {
namespace {

constexpr char kUsage[] =
    "usage: crigate [--config PATH] [--check-config]\n"
    "\n"
    "Serves the CRI on its own unix socket and forwards every call to containerd,\n"
    "stopping the gated ones at the policy pipeline first.\n"
    "  --config PATH    TOML config (default /etc/crigate/config.toml; a missing\n"
    "                   default file means all defaults)\n"
    "  --check-config   validate the config, print the result, and exit\n";

struct Args {
  std::string config_path = cri::kDefaultConfigPath;
  bool config_given = false;
  bool check_only = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      args->config_path = argv[++i];
      args->config_given = true;
    } else if (arg.rfind("--config=", 0) == 0) {
      args->config_path = std::string(arg.substr(9));
      args->config_given = true;
    } else if (arg == "--check-config") {
      args->check_only = true;
    } else {
      return false;
    }
  }
  return true;
}

// Sections owned by parts that parse them elsewhere; known so that a typo in
// a section name is reported rather than silently ignored.
const std::set<std::string_view>& KnownSections() {
  static const std::set<std::string_view> kSections = {
      "server", "backend", "log", "gate", "privilege", "trust", "token",
      "cloud",  "audit",   "node", "monitor", "approval"};
  return kSections;
}

// Until the audit log and the cloud's event endpoint are wired in, a stop is
// at least in the daemon's log.
class StopLogger final : public monitor::ActionReporter {
 public:
  void Report(const monitor::StopAction& a) override {
    log::Warn("monitor stopped {} ({}/{} {}): {} at {:.2f} over {:.2f} for {} samples: {}",
              a.container_id.substr(0, 12), a.pod_namespace, a.pod_name, a.container_name,
              a.resource, a.ratio, a.threshold, a.samples,
              a.result.ok() ? "stopped" : a.result.error_message());
  }
};

int Run(const Args& args) {
  std::vector<std::string> errors;
  toml::table root;
  if (args.config_given || access(args.config_path.c_str(), F_OK) == 0) {
    auto loaded = cri::LoadToml(args.config_path, &errors);
    if (loaded) root = std::move(*loaded);
  }
  for (const auto& [key, value] : root) {
    if (!KnownSections().count(key.str())) {
      errors.push_back(fmt::format("{}: unknown section", key.str()));
    }
  }
  cri::DaemonConfig config;
  monitor::MonitorConfig monitor_config;
  if (errors.empty()) {
    cri::ParseDaemonConfig(root, &config, &errors);
    monitor_config = monitor::ParseMonitorConfig(root, errors);
  }
  if (!errors.empty()) {
    for (const auto& e : errors) {
      std::fprintf(stderr, "crigate: config %s: %s\n", args.config_path.c_str(), e.c_str());
    }
    return 2;
  }
  if (args.check_only) {
    std::printf("crigate: config %s is valid\n", args.config_path.c_str());
    return 0;
  }
  log::SetLevel(config.log_level);

  // Signals are taken by sigwait in this thread only; every thread created
  // below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto backend = grpc::CreateCustomChannel(config.backend_endpoint,
                                           grpc::InsecureChannelCredentials(),
                                           cri::BackendChannelArguments());
  // The monitor keeps a few cgroup files open per container.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  std::unique_ptr<monitor::Watchdog> watchdog;
  if (monitor_config.enabled) {
    std::string error;
    watchdog = monitor::CreateHostWatchdog(
        monitor_config, backend, std::make_shared<StopLogger>(),
        [](std::string_view message) { log::Warn("monitor: {}", message); }, &error);
    if (!watchdog) {
      log::Error("cannot start the monitor: {}", error);
      return 1;
    }
  }
  cri::FollowUp follow_up(watchdog.get());

  cri::PeerRegistry peers;
  cri::WorkQueue work(config.decision_threads);
  policy::AllowAllPipeline pipeline;

  cri::ProxyDeps deps;
  deps.backend = backend;
  deps.peers = &peers;
  deps.pipeline = &pipeline;
  deps.work = &work;
  deps.observer = &follow_up;
  cri::ProxyService service({config.backend_endpoint, config.gated_actions}, deps);

  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&service);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log::Error("could not start the gRPC server");
    return 1;
  }

  std::string error;
  std::unique_ptr<cri::UnixListener> listener = cri::UnixListener::Open(config.socket, &error);
  if (!listener) {
    log::Error("cannot serve: {}", error);
    server->Shutdown();
    return 1;
  }
  std::thread acceptor([&] {
    listener->Run([&](int fd) {
      std::optional<policy::Caller> caller = cri::ReadPeerCredentials(fd);
      if (!caller) log::Warn("fd {}: cannot read peer credentials; caller treated as unknown", fd);
      // Recorded before grpc sees the fd, so the connection's first call finds it.
      peers.Put(fd, caller.value_or(policy::Caller{}));
      grpc::AddInsecureChannelFromFd(server.get(), fd);
    });
  });

  std::string gated;
  for (const auto& a : config.gated_actions) gated += (gated.empty() ? "" : ",") + a;
  log::Info("crigate listening on {} (mode {:04o}), forwarding to {}, gating [{}]",
            listener->path(), config.socket.mode, config.backend_endpoint, gated);
  if (backend->GetState(true) != GRPC_CHANNEL_READY &&
      !backend->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    log::Warn("containerd at {} is not answering yet; calls get UNAVAILABLE until it does",
              config.backend_endpoint);
  }

  if (watchdog && !watchdog->Start()) {
    log::Error("the monitor could not start its threads");
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log::Info("SIGHUP: nothing to reload in this build");
      continue;
    }
    log::Info("{}: no new connections; draining in-flight calls for up to {} ms",
              strsignal(sig), config.drain_timeout_ms);
    break;
  }
  listener->Stop();
  acceptor.join();
  listener.reset();  // removes the socket file: new callers fail fast
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(config.drain_timeout_ms));
  server->Wait();
  if (watchdog) watchdog->Stop();
  log::Info("crigate stopped");
  return 0;
}

}  // namespace
}  // namespace crigate

int main(int argc, char** argv) {
  crigate::Args args;
  if (!crigate::ParseArgs(argc, argv, &args)) {
    std::fputs(crigate::kUsage, stderr);
    return 2;
  }
  return crigate::Run(args);
}
