#include "cri/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>

#include "cri/daemon/approval_minter.h"
#include "cri/daemon/backend_resolver.h"
#include "cri/daemon/daemon_metrics.h"
#include "cri/daemon/follow_up.h"
#include "cri/daemon/metrics_server.h"
#include "cri/daemon/service_notify.h"
#include "cri/daemon/status_file.h"
#include "cri/daemon/stop_reporter.h"
#include "cri/h2/relay.h"
#include "cri/health.h"
#include "cri/log.h"
#include "cri/proxy.h"
#include "cri/relay_gate.h"
#include "cri/unix_listener.h"
#include "cri/work_queue.h"
#include "monitor/monitor.h"
#include "policy/actions.h"
#include "policy/base/text.h"
#include "policy/base/time.h"
#include "policy/channel/mqtt_channel.h"
#include "policy/cloud/cloud_config.h"
#include "policy/cloud/event_sink.h"

namespace crigate::cri {
namespace {

// The gated methods, for the start-up line.
std::set<std::string> GatedActions(const policy::PolicyConfig& config) {
  std::set<std::string> gated;
  for (const auto& a : policy::GatableActions()) {
    if (config.Gates(a)) gated.insert(a);
  }
  return gated;
}

// How often the status file is rewritten, and how long a health probe
// waits for containerd.
constexpr std::chrono::seconds kStatusPeriod{2};
constexpr std::chrono::seconds kHealthProbeTimeout{1};

// The monitor keeps a few cgroup files open per container.
void RaiseOpenFileLimit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

Daemon::Daemon(Settings settings) : settings_(std::move(settings)) {}

Daemon::~Daemon() {
  if (acceptor_.joinable()) Drain();
}

base::Result<std::unique_ptr<Daemon>> Daemon::Build(Settings settings) {
  std::unique_ptr<Daemon> daemon(new Daemon(std::move(settings)));
  if (base::Status built = daemon->BuildParts(); !built.ok()) return built;
  return daemon;
}

base::Status Daemon::BuildParts() {
  const DaemonConfig& config = settings_.daemon;
  const policy::PolicyConfig& policy_config = *settings_.policy;
  RaiseOpenFileLimit();
  backend_ = grpc::CreateCustomChannel(config.backend_endpoint, grpc::InsecureChannelCredentials(),
                                       BackendChannelArguments());

  // The pipeline: what the node holds is asked of containerd. Token uses and
  // kept tokens live on disk only when tokens are checked.
  resolver_ = std::make_unique<BackendResolver>(backend_, std::chrono::seconds(5));
  pipeline_deps_.resolver = resolver_.get();
  if (policy_config.token.enabled) {
    auto token_uses = policy::OpenTokenUses(policy_config, base::SystemClock::Instance());
    if (!token_uses.ok()) {
      return base::Status(token_uses.code(),
                          "cannot open the token-use store: " + token_uses.error());
    }
    pipeline_deps_.token_uses = *token_uses;
    auto grants = policy::OpenTokenGrants(policy_config);
    if (!grants.ok()) {
      return base::Status(grants.code(), "cannot open the kept-token directory: " + grants.error());
    }
    token_grants_ = std::move(grants).value();
    pipeline_deps_.token_grants = token_grants_.get();
  }
  base::Result<std::shared_ptr<const Snapshot>> first =
      BuildSnapshot(std::make_shared<const Settings>(settings_));
  if (!first.ok()) return first.status();
  live_.Set(std::move(first).value());
  auto audit = policy::OpenAudit(policy_config, pipeline_deps_);
  if (!audit.ok()) return base::Status(audit.code(), "cannot open the audit log: " + audit.error());
  pipeline_ = std::make_unique<policy::StagedPipeline>([this] { return live_.Get()->stages; },
                                                       std::move(audit).value());

  if (policy_config.cloud && policy_config.cloud->enabled) {
    auto sink = cloud::MakeEventSink(*policy_config.cloud, policy_config.node_id,
                                     [this] { return live_.Get()->node_signer; });
    if (!sink.ok()) {
      return base::Status(sink.code(), "cannot start the cloud event sink: " + sink.error());
    }
    events_ = std::move(sink).value();
  }

  if (settings_.channel.enabled) {
    if (base::Status built = BuildChannel(); !built.ok()) return built;
  }

  if (settings_.monitor.enabled) {
    auto watchdog = monitor::CreateHostWatchdog(
        settings_.monitor, backend_,
        std::make_shared<StopReporter>(&pipeline_->audit(), events_.get(), channel_.get()),
        [](std::string_view message) { log::Warn("monitor: {}", message); });
    if (!watchdog.ok()) {
      return base::Status(watchdog.code(), "cannot start the monitor: " + watchdog.error());
    }
    watchdog_ = std::move(watchdog).value();
  }
  follow_up_ =
      std::make_unique<FollowUp>(watchdog_.get(), pipeline_.get(), backend_, token_grants_.get());
  work_ = std::make_unique<WorkQueue>(config.decision_threads);

  ProxyDeps deps;
  deps.backend = backend_;
  deps.peers = &peers_;
  deps.pipeline = pipeline_.get();
  deps.work = work_.get();
  deps.observer = follow_up_.get();
  // No bypass: an allowed pod or container start leaves an approval for the
  // shim wrapper while it is forwarded.
  if (settings_.approval.enabled) {
    approvals_ = std::make_unique<ApprovalIssuer>(settings_.approval,
                                                  [this] { return live_.Get()->approval_key; });
    if (int stale = approvals_->Clear(); stale > 0) {
      log::Warn("removed {} approvals left in {} by a previous crigate process", stale,
                approvals_->dir());
    }
    sandbox_facts_ = std::make_unique<BackendSandboxFacts>(resolver_.get());
    minter_ = std::make_unique<ApprovalMinter>(approvals_.get(), sandbox_facts_.get());
    deps.rewriter = minter_.get();
  }
  return BuildFrontEnd(deps);
}

base::Status Daemon::BuildFrontEnd(const ProxyDeps& deps) {
  const DaemonConfig& config = settings_.daemon;
  ProxyOptions proxy_options;
  proxy_options.backend_target = config.backend_endpoint;
  proxy_options.classify = [policy = settings_.policy](policy::CriService service,
                                                       std::string_view method) {
    return policy->ClassOf(service, method);
  };
  proxy_options.max_message_bytes = static_cast<size_t>(config.max_message_bytes);
  if (config.front_end == FrontEnd::kRelay) {
    health_ = std::make_unique<HealthService>([this] { return Healthy(); });
    auto options = RelayGateOptions(proxy_options, {deps.pipeline, deps.rewriter, deps.observer},
                                    work_.get(), health_.get());
    if (!options.ok()) return base::Status(options.code(), "backend.endpoint: " + options.error());
    auto relay = h2::Relay::Create(*std::move(options));
    if (!relay.ok())
      return base::Status(relay.code(), "cannot start the front end: " + relay.error());
    relay_ = std::move(relay).value();
    return base::Status::OK();
  }
  service_ = std::make_unique<ProxyService>(proxy_options, deps);

  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(service_.get());
  // The front end refuses (and audits) a held request over max_message_bytes
  // itself; grpc's own limit sits above it so that such a request reaches
  // the front end, and still bounds the memory one message can take.
  builder.SetMaxReceiveMessageSize(std::min(2 * config.max_message_bytes, 512 << 20));
  // Answers are containerd's and bounded by it (ListImages on a big node).
  builder.SetMaxSendMessageSize(-1);
  server_ = builder.BuildAndStart();
  if (!server_) {
    return base::Status::Internal("could not start the gRPC server");
  }
  return base::Status::OK();
}

base::Status Daemon::Serve() {
  const DaemonConfig& config = settings_.daemon;
  if (settings_.metrics.enabled) {
    RegisterDaemonMetrics(CRIGATE_VERSION);
    part_metrics_ = PartMetrics({pipeline_deps_.token_uses.get(), events_.get(), channel_.get()});
    auto metrics =
        MetricsServer::Start(settings_.metrics, {&base::DefaultRegistry(), part_metrics_.get()});
    if (!metrics.ok()) return metrics.status();
    metrics_ = std::move(metrics).value();
    log::Info("metrics on http://{}/metrics", settings_.metrics.listen);
  }
  auto listener = UnixListener::Open(config.socket);
  if (!listener.ok()) return base::Status(listener.code(), "cannot serve: " + listener.error());
  listener_ = std::move(listener).value();
  if (relay_) {
    relay_loop_ = std::thread([this] { relay_->Run(); });
    // The loop reads each connection's credentials (SO_PEERCRED) itself.
    acceptor_ = std::thread([this] { listener_->Run([this](int fd) { relay_->Adopt(fd); }); });
  } else {
    acceptor_ = std::thread([this] {
      listener_->Run([this](int fd) {
        std::optional<policy::Caller> caller = ReadPeerCredentials(fd);
        if (!caller)
          log::Warn("fd {}: cannot read peer credentials; caller treated as unknown", fd);
        // Recorded before grpc sees the fd, so the connection's first call finds it.
        peers_.Put(fd, caller.value_or(policy::Caller{}));
        grpc::AddInsecureChannelFromFd(server_.get(), fd);
      });
    });
  }

  log::Info(
      "crigate listening on {} (mode {:04o}, {} front end), forwarding to {}, gating [{}], "
      "audit {}",
      listener_->path(), config.socket.mode, relay_ ? "event-loop" : "grpc++",
      config.backend_endpoint, base::Join(GatedActions(*settings_.policy)),
      pipeline_->audit().path());
  if (approvals_) {
    log::Info("approving pod and container starts in {} with key {}", approvals_->dir(),
              approvals_->key_file());
  }
  if (backend_->GetState(true) != GRPC_CHANNEL_READY &&
      !backend_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    log::Warn("containerd at {} is not answering yet; calls get UNAVAILABLE until it does",
              config.backend_endpoint);
  }
  if (watchdog_ && !watchdog_->Start()) log::Error("the monitor could not start its threads");
  // Last: a retained bundle may arrive at once, and its reload needs every
  // part built.
  if (channel_) channel_->Start();
  status_ = std::make_unique<StatusWriter>(StatusFileOf(config), kStatusPeriod,
                                           [this] { return StatusNow("serving"); });
  status_->Start();
  service_status_ = std::make_unique<ServiceStatus>(MakeSystemdNotifier(), config.backend_endpoint);
  service_status_->WaitThenReady(
      [backend = backend_](std::chrono::milliseconds for_at_most) {
        return backend->GetState(true) == GRPC_CHANNEL_READY ||
               backend->WaitForConnected(std::chrono::system_clock::now() + for_at_most);
      },
      fmt::format("serving the CRI on {}, forwarding to {}", listener_->path(),
                  config.backend_endpoint));
  return base::Status::OK();
}

base::Status Daemon::Healthy() const {
  auto answers = resolver_->Answers(kHealthProbeTimeout);
  if (!answers.ok()) return answers.status();
  if (!live_.Get() || !live_.Get()->stages) return base::Status::Unavailable("no policy in force");
  return base::Status::OK();
}

nlohmann::ordered_json Daemon::StatusNow(const char* state) const {
  using nlohmann::ordered_json;
  const auto now = std::chrono::system_clock::now();
  const DaemonConfig& config = settings_.daemon;
  ordered_json status = {
      {"crigate",
       {{"version", CRIGATE_VERSION},
        {"pid", getpid()},
        {"state", state},
        {"started_at", base::FormatUtc(started_at_)},
        {"written_at", base::FormatUtc(now)},
        {"written_unix",
         std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()}}},
      {"config", settings_.path},
      {"socket", config.socket.path},
      {"front_end", relay_ ? "event-loop" : "grpc++"},
  };
  ordered_json containerd = {{"endpoint", config.backend_endpoint}};
  if (std::string_view(state) == "serving") {
    auto answers = resolver_->Answers(kHealthProbeTimeout);
    containerd["answers"] = answers.ok();
    containerd[answers.ok() ? "runtime" : "error"] = answers.ok() ? *answers : answers.error();
  }
  status["containerd"] = containerd;

  ordered_json policy = {{"loaded", live_.Get() != nullptr && live_.Get()->stages != nullptr},
                         {"gated", GatedActions(*settings_.policy)},
                         {"audit", pipeline_->audit().path()},
                         {"reloads_ok", ReloadsCounted(true)},
                         {"reloads_refused", ReloadsCounted(false)}};
  {
    std::lock_guard<std::mutex> lock(reload_news_mu_);
    if (!last_reload_.empty()) policy["last_reload"] = last_reload_;
  }
  ordered_json decisions = ordered_json::array();
  for (const policy::StageCounts& c : pipeline_->Counts()) {
    decisions.push_back(
        {{"stage", c.stage}, {"allowed", c.allowed}, {"denied", c.denied}, {"errors", c.errors}});
  }
  policy["decisions"] = decisions;
  status["policy"] = policy;

  ordered_json cloud = ordered_json::object();
  const auto& cloud_config = settings_.policy->cloud;
  cloud["authorization"] = cloud_config && cloud_config->enabled ? cloud_config->url : "off";
  if (events_) {
    const cloud::EventSinkStats events = events_->stats();
    cloud["events"] = {{"delivered", events.delivered},
                       {"queued", events.queued},
                       {"dropped", events.dropped_full + events.dropped_failed},
                       {"last_error", events.last_error}};
  }
  if (channel_) {
    const channel::ChannelStats channel = channel_->stats();
    cloud["channel"] = {
        {"broker", fmt::format("{}:{}", settings_.channel.host, settings_.channel.port)},
        {"connected", channel.connected},
        {"bundle_version", channel.policy_version},
        {"bundles_applied", channel.bundles_applied},
        {"bundles_refused", channel.bundles_refused},
        {"events_sent", channel.events_sent},
        {"spool_depth", channel.spool.depth},
        {"spool_dropped", channel.spool.dropped},
        {"last_error", channel.last_error}};
  } else {
    cloud["channel"] = "off";
  }
  status["cloud"] = cloud;

  if (watchdog_) {
    const monitor::WatchdogStats w = watchdog_->stats();
    status["watchdog"] = {{"running", std::string_view(state) == "serving"},
                          {"watched", w.watched},
                          {"ticks", w.ticks},
                          {"stops_ok", w.stops_ok},
                          {"stops_failed", w.stops_failed}};
  } else {
    status["watchdog"] = "off";
  }
  return status;
}

base::Result<std::shared_ptr<const Snapshot>> Daemon::BuildSnapshot(
    std::shared_ptr<const Settings> settings) const {
  auto snapshot = std::make_shared<Snapshot>();
  auto stages = policy::BuildStages(*settings->policy, pipeline_deps_);
  if (!stages.ok()) {
    return base::Status(stages.code(), "cannot build the policy pipeline: " + stages.error());
  }
  snapshot->stages = std::move(stages).value();
  const auto& cloud = settings->policy->cloud;
  if (cloud && cloud->enabled) {
    snapshot->node_signer = std::make_shared<const cloud::NodeSigner>(cloud->node_key);
  }
  if (settings->approval.enabled) {
    auto key = LoadApprovalKey(settings->approval.key_file);
    if (!key.ok()) return base::Status(key.code(), "approval.key_file: " + key.error());
    snapshot->approval_key = std::move(key).value();
  }
  snapshot->settings = std::move(settings);
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

bool Daemon::Reload() {
  if (service_status_) service_status_->Reloading();
  const bool applied = ReloadFor("SIGHUP").ok();
  if (service_status_) service_status_->Reloaded(applied);
  return applied;
}

base::Status Daemon::ReloadFor(const std::string& why) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  const std::string& path = settings_.path;
  // One count (crigate_reloads_total, which crigate status reads too) and
  // one line for crigate status, whichever way it ends.
  auto note = [&](bool ok, const std::string& result) {
    CountReload(ok);
    std::lock_guard<std::mutex> news(reload_news_mu_);
    last_reload_ =
        fmt::format("{} at {}: {}", why, base::FormatUtc(std::chrono::system_clock::now()), result);
  };
  auto refuse = [&](base::Status status) {
    log::Error("{}: {} not reloaded, everything stays as it was: {}", why, path, status.message());
    note(false, "refused: " + status.message());
    return status;
  };
  std::vector<std::string> errors;
  std::optional<Settings> settings = LoadSettings(path, settings_.must_exist, errors);
  if (!settings) return refuse(base::Status::InvalidArgument(base::Join(errors, "; ")));
  if (std::vector<std::string> changed = RestartOnlyChanges(settings_, *settings);
      !changed.empty()) {
    return refuse(base::Status(
        base::Code::FAILED_PRECONDITION,
        fmt::format("{} changed, which takes a restart of crigate", base::Join(changed))));
  }
  base::Result<std::shared_ptr<const Snapshot>> next =
      BuildSnapshot(std::make_shared<const Settings>(std::move(*settings)));
  if (!next.ok()) return refuse(next.status());
  live_.Set(std::move(next).value());
  note(true, "reloaded");
  log::Info("{}: {} reloaded: trust store, token keys, cloud authorization and node key{}", why,
            path, approvals_ ? ", approval key" : "");
  log::Info("decisions so far: {}", pipeline_->CountsText());
  return base::Status::OK();
}

base::Status Daemon::BuildChannel() {
  const channel::ChannelConfig& config = settings_.channel;
  const policy::PolicyConfig& policy_config = *settings_.policy;
  std::vector<std::string> errors;
  std::shared_ptr<const policy::KeySet> bundle_keys =
      policy::KeySet::Load(config.bundle_keys, errors);
  if (!bundle_keys) {
    return base::Status::InvalidArgument("channel.bundle_keys: " + base::Join(errors, "; "));
  }
  channel::SpoolOptions spool_options;
  spool_options.dir = config.state_dir + "/events";
  spool_options.max_events = config.spool_max_events;
  channel::BundleTargets targets;
  targets.node_id = policy_config.node_id;
  targets.trust_store_path = policy_config.trust.enabled ? policy_config.trust.store : "";
  targets.token_keys_dir = config.token_keys_dir;
  targets.state_dir = config.state_dir;
  // state_dir first: the spool lives inside it.
  auto bundles = channel::BundleApplier::Open(
      targets, bundle_keys, [this](const std::string& why) { return ReloadFor(why); });
  if (!bundles.ok()) {
    return base::Status(bundles.code(), "cannot start the cloud channel: " + bundles.error());
  }
  auto spool = channel::EventSpool::Open(spool_options);
  if (!spool.ok()) {
    return base::Status(spool.code(), "cannot open the cloud channel's spool: " + spool.error());
  }
  channel::NodeFacts node;
  node.id = policy_config.node_id;
  node.mac = policy_config.cloud ? policy_config.cloud->node_mac : cloud::FirstInterfaceMac();
  node.crigate_version = CRIGATE_VERSION;
  auto started = channel::MqttChannel::Create(
      config, std::move(node), std::move(spool).value(), std::move(bundles).value(),
      [this](const channel::BundleOutcome& outcome) { RecordBundle(outcome); },
      [](bool warning, const std::string& message) {
        if (warning) {
          log::Warn("cloud channel: {}", message);
        } else {
          log::Info("cloud channel: {}", message);
        }
      });
  if (!started.ok()) {
    return base::Status(started.code(), "cannot start the cloud channel: " + started.error());
  }
  channel_ = std::move(started).value();
  log::Info("cloud channel: broker {}:{} as {}, topics {}/{}/..., policy version {}", config.host,
            config.port, config.client_id, config.prefix, policy_config.node_id,
            channel_->stats().policy_version);
  return base::Status::OK();
}

void Daemon::RecordBundle(const channel::BundleOutcome& outcome) {
  const char* result = channel::KindName(outcome.kind);
  nlohmann::ordered_json record = {
      {"time", base::FormatUtc(base::SystemClock::Instance().Now(), true)},
      {"type", "policy_bundle"},
      {"result", result},
      {"version", outcome.version},
      {"in_force", outcome.in_force},
  };
  if (!outcome.signed_by.empty()) record["signed_by"] = outcome.signed_by;
  if (!outcome.reason.empty()) record["reason"] = outcome.reason;
  if (outcome.kind == channel::BundleOutcome::Kind::kRefused) {
    log::Warn("cloud bundle v{} refused, version {} stays in force: {}", outcome.version,
              outcome.in_force, outcome.reason);
  } else if (outcome.kind == channel::BundleOutcome::Kind::kApplied) {
    log::Info("cloud bundle v{} (signed by {}) is in force{}", outcome.version, outcome.signed_by,
              outcome.reason.empty() ? "" : ": " + outcome.reason);
  }
  if (outcome.kind == channel::BundleOutcome::Kind::kAlreadyApplied) return;  // a redelivery
  base::Status s = pipeline_->audit().Record(record);
  if (!s.ok()) log::Error("audit record of a cloud bundle failed: {}", s.message());
}

void Daemon::Drain() {
  log::Info("no new connections; draining in-flight calls for up to {} ms",
            settings_.daemon.drain_timeout_ms);
  if (status_) status_->Stop(StatusNow("draining"));
  if (service_status_) service_status_->Stopping();
  if (listener_) listener_->Stop();
  if (acceptor_.joinable()) acceptor_.join();
  listener_.reset();  // removes the socket file: new callers fail fast
  if (relay_) {
    // GOAWAY to every caller; the loop returns once their calls ended.
    relay_->Drain(std::chrono::milliseconds(settings_.daemon.drain_timeout_ms));
    if (relay_loop_.joinable()) relay_loop_.join();
    // Decisions and after-call steps still queued run now, with the relay
    // and every part they use still there; then the relay goes, giving
    // back the token uses of calls allowed too late to be relayed.
    work_.reset();
    relay_.reset();
  } else {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(settings_.daemon.drain_timeout_ms));
    server_->Wait();
  }
  if (watchdog_) watchdog_->Stop();
  if (events_) events_->Shutdown(std::chrono::seconds(2));
  // After the watchdog: its last stops are spooled; what the broker has not
  // taken yet is sent after the next start.
  if (channel_) channel_->Stop();
  if (status_) status_->Stop(StatusNow("stopped"));  // stopped already: writes the last state
  log::Info("decisions: {}", pipeline_->CountsText());
}

}  // namespace crigate::cri
