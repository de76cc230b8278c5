// crigate: the gate on the CRI socket. See README.md for how to run it.
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cri/approval_minter.h"
#include "cri/backend_resolver.h"
#include "cri/daemon_config.h"
#include "cri/follow_up.h"
#include "cri/log.h"
#include "cri/method_table.h"
#include "cri/peer_registry.h"
#include "cri/proxy.h"
#include "cri/stop_reporter.h"
#include "cri/unix_listener.h"
#include "cri/work_queue.h"
#include "monitor/monitor.h"
#include "policy/actions.h"
#include "policy/cloud/event_sink.h"
#include "policy/pipeline_builder.h"
#include "policy/policy_config.h"
#include "policy/token_cli.h"

namespace crigate {
namespace {

constexpr char kUsage[] =
    "usage: crigate [--config PATH] [--check-config]\n"
    "       crigate token issue|verify|keygen ...   (crigate token --help)\n"
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
bool KnownSection(std::string_view name) {
  static const std::set<std::string_view> kOwn = {"server", "backend", "log", "monitor",
                                                  "approval"};
  return kOwn.count(name) > 0 || policy::PolicySections().count(name) > 0;
}

// The gated methods, for the start-up line.
std::set<std::string> GatedActions(const policy::PolicyConfig& config) {
  std::set<std::string> gated;
  for (const auto& a : policy::GatableActions()) {
    if (config.Gates(a)) gated.insert(a);
  }
  return gated;
}

int Run(const Args& args) {
  std::vector<std::string> errors;
  toml::table root;
  if (args.config_given || access(args.config_path.c_str(), F_OK) == 0) {
    auto loaded = cri::LoadToml(args.config_path, &errors);
    if (loaded) root = std::move(*loaded);
  }
  for (const auto& [key, value] : root) {
    if (!KnownSection(key.str())) {
      errors.push_back(fmt::format("{}: unknown section", key.str()));
    }
  }
  cri::DaemonConfig config;
  monitor::MonitorConfig monitor_config;
  std::shared_ptr<const policy::PolicyConfig> policy_config;
  cri::ApprovalConfig approval_config;
  std::unique_ptr<cri::ApprovalIssuer> approvals;
  if (errors.empty()) {
    cri::ParseDaemonConfig(root, &config, &errors);
    monitor_config = monitor::ParseMonitorConfig(root, errors);
    policy_config = policy::ParsePolicyConfig(root, errors);
    approval_config = cri::ParseApprovalConfig(root, errors);
  }
  if (errors.empty() && approval_config.enabled) {
    // Approvals are written for allowed calls only: an ungated RunPodSandbox
    // or StartContainer would reach containerd without one and always fail.
    for (const char* action : {"RunPodSandbox", "StartContainer"}) {
      if (!policy_config->Gates(action)) {
        errors.push_back(fmt::format("approval.enabled: {} must be in gate.methods", action));
      }
    }
    std::string error;
    approvals = cri::ApprovalIssuer::Create(approval_config, &error);
    if (!approvals) errors.push_back("approval.key_file: " + error);
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

  auto backend = grpc::CreateCustomChannel(
      config.backend_endpoint, grpc::InsecureChannelCredentials(), cri::BackendChannelArguments());
  // The monitor keeps a few cgroup files open per container.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // The pipeline: what the node holds is asked of containerd; used token ids
  // are remembered across SIGHUP reloads.
  cri::BackendResolver resolver(backend, std::chrono::seconds(5));
  policy::PipelineDeps pipeline_deps;
  pipeline_deps.resolver = &resolver;
  // Token uses and kept tokens live on disk only when tokens are checked.
  std::unique_ptr<policy::TokenGrants> token_grants;
  if (policy_config->token.enabled) {
    auto token_uses = policy::OpenTokenUses(*policy_config, base::SystemClock::Instance());
    if (!token_uses.ok()) {
      log::Error("cannot open the token-use store: {}", token_uses.error());
      return 1;
    }
    pipeline_deps.token_uses = *token_uses;
    auto grants = policy::OpenTokenGrants(*policy_config);
    if (!grants.ok()) {
      log::Error("cannot open the kept-token directory: {}", grants.error());
      return 1;
    }
    token_grants = std::move(grants).value();
    pipeline_deps.token_grants = token_grants.get();
  }
  auto built = policy::BuildPipeline(*policy_config, pipeline_deps);
  if (!built.ok()) {
    log::Error("cannot build the policy pipeline: {}", built.error());
    return 1;
  }
  std::unique_ptr<policy::StagedPipeline> pipeline = std::move(built).value();

  std::unique_ptr<cloud::EventSink> events;
  if (policy_config->cloud && policy_config->cloud->enabled) {
    auto sink = cloud::MakeEventSink(*policy_config->cloud, policy_config->node_id);
    if (!sink.ok()) {
      log::Error("cannot start the cloud event sink: {}", sink.error());
      return 1;
    }
    events = std::move(sink).value();
  }

  std::unique_ptr<monitor::Watchdog> watchdog;
  if (monitor_config.enabled) {
    std::string error;
    watchdog = monitor::CreateHostWatchdog(
        monitor_config, backend,
        std::make_shared<cri::StopReporter>(&pipeline->audit(), events.get()),
        [](std::string_view message) { log::Warn("monitor: {}", message); }, &error);
    if (!watchdog) {
      log::Error("cannot start the monitor: {}", error);
      return 1;
    }
  }
  cri::FollowUp follow_up(watchdog.get(), pipeline.get(), backend, token_grants.get());

  cri::PeerRegistry peers;
  cri::WorkQueue work(config.decision_threads);

  cri::ProxyDeps deps;
  deps.backend = backend;
  deps.peers = &peers;
  deps.pipeline = pipeline.get();
  deps.work = &work;
  deps.observer = &follow_up;
  // No bypass: an allowed pod or container start leaves an approval for the
  // shim wrapper while it is forwarded.
  cri::BackendSandboxFacts sandbox_facts(&resolver);
  std::unique_ptr<cri::ApprovalMinter> minter;
  if (approvals) {
    if (int stale = approvals->Clear(); stale > 0) {
      log::Warn("removed {} approvals left in {} by a previous crigate process", stale,
                approvals->dir());
    }
    minter = std::make_unique<cri::ApprovalMinter>(approvals.get(), &sandbox_facts);
    deps.rewriter = minter.get();
  }
  const std::set<std::string> gated = GatedActions(*policy_config);
  cri::ProxyOptions proxy_options;
  proxy_options.backend_target = config.backend_endpoint;
  proxy_options.classify = [policy_config](policy::CriService service, std::string_view method) {
    return policy_config->ClassOf(service, method);
  };
  proxy_options.max_message_bytes = static_cast<size_t>(config.max_message_bytes);
  cri::ProxyService service(proxy_options, deps);

  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&service);
  // The front end refuses (and audits) a held request over max_message_bytes
  // itself; grpc's own limit sits above it so that such a request reaches
  // the front end, and still bounds the memory one message can take.
  builder.SetMaxReceiveMessageSize(std::min(2 * config.max_message_bytes, 512 << 20));
  // Answers are containerd's and bounded by it (ListImages on a big node).
  builder.SetMaxSendMessageSize(-1);
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

  log::Info("crigate listening on {} (mode {:04o}), forwarding to {}, gating [{}], audit {}",
            listener->path(), config.socket.mode, config.backend_endpoint, policy::JoinNames(gated),
            pipeline->audit().path());
  if (approvals) {
    log::Info("approving pod and container starts in {} with key {}", approvals->dir(),
              approvals->key_file());
  }
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
      // Calls keep flowing: the stores are swapped atomically, and a broken
      // file keeps the old one.
      grpc::Status reloaded = pipeline->Reload();
      if (reloaded.ok()) {
        log::Info("SIGHUP: trust store and keys reloaded");
      } else {
        log::Error("SIGHUP: reload failed, still using the previous files: {}",
                   reloaded.error_message());
      }
      if (approvals) {
        grpc::Status key = approvals->Reload();
        if (key.ok()) {
          log::Info("SIGHUP: approval key {} reloaded", approvals->key_file());
        } else {
          log::Error("SIGHUP: approval key reload failed, still using the previous key: {}",
                     key.error_message());
        }
      }
      if (events) {
        grpc::Status reloaded_events = events->Reload();
        if (!reloaded_events.ok()) {
          log::Error("SIGHUP: event sink reload failed: {}", reloaded_events.error_message());
        }
      }
      log::Info("decisions so far: {}", pipeline->CountsText());
      continue;
    }
    log::Info("{}: no new connections; draining in-flight calls for up to {} ms", strsignal(sig),
              config.drain_timeout_ms);
    break;
  }
  listener->Stop();
  acceptor.join();
  listener.reset();  // removes the socket file: new callers fail fast
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(config.drain_timeout_ms));
  server->Wait();
  if (watchdog) watchdog->Stop();
  if (events) events->Shutdown(std::chrono::seconds(2));
  log::Info("decisions: {}", pipeline->CountsText());
  log::Info("crigate stopped");
  return 0;
}

}  // namespace
}  // namespace crigate

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "token") {
    return crigate::policy::RunTokenCli(argc - 1, argv + 1);
  }
  crigate::Args args;
  if (!crigate::ParseArgs(argc, argv, &args)) {
    std::fputs(crigate::kUsage, stderr);
    return 2;
  }
  return crigate::Run(args);
}
