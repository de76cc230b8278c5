// The daemon: the one place that knows every part. It builds them from
// validated Settings in dependency order (containerd channel, pipeline,
// cloud event sink, watchdog, approvals, the front end), serves the CRI
// socket, reloads on SIGHUP and drains on SIGTERM/SIGINT.
//
//   auto daemon = Daemon::Build(settings);   // Result: nothing served yet
//   (*daemon)->Serve();                      // accept thread + watchdog
//   (*daemon)->Reload();                     // on SIGHUP
//   (*daemon)->Drain();                      // on SIGTERM; then destroy
//
// Parts are members in construction order, so they are destroyed in the
// reverse: nothing outlives what it points to. They are only named here, so
// that main.cc does not parse the gRPC server and every part's header.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cri/daemon/settings.h"
#include "cri/peer_registry.h"
#include "policy/base/latest.h"
#include "policy/pipeline_builder.h"

namespace grpc {
class Channel;
class Server;
}  // namespace grpc

namespace crigate::cloud {
class EventSink;
class NodeSigner;
}  // namespace crigate::cloud

namespace crigate::channel {
class MqttChannel;
struct BundleOutcome;
}  // namespace crigate::channel

namespace crigate::monitor {
class Watchdog;
}  // namespace crigate::monitor

namespace crigate::base {
class Registry;
}  // namespace crigate::base

namespace crigate::cri::h2 {
class Relay;
}  // namespace crigate::cri::h2

namespace crigate::cri {

class ApprovalIssuer;
class HealthService;
class StatusWriter;
class ApprovalMinter;
class BackendResolver;
class BackendSandboxFacts;
class FollowUp;
class MetricsServer;
class ProxyService;
struct ProxyDeps;
class ServiceStatus;
class UnixListener;
class WorkQueue;

// Everything a SIGHUP replaces, built whole from one Settings and swapped in
// as one pointer: the stage set every decision runs (trust store, token keys,
// cloud authorizer with its node key), the node key events are signed with,
// and the approval key. A broken file builds no Snapshot and the previous
// one stays, whole.
struct Snapshot {
  std::shared_ptr<const Settings> settings;
  std::shared_ptr<const policy::StageSet> stages;
  std::shared_ptr<const cloud::NodeSigner> node_signer;   // null without the cloud
  std::shared_ptr<const shim::ApprovalKey> approval_key;  // null without approvals
};

class Daemon final {
 public:
  // Every part, or why not. Opens the stores the parts keep (token uses,
  // audit log) but serves nothing.
  static base::Result<std::unique_ptr<Daemon>> Build(Settings settings);
  ~Daemon();

  // Serves the metrics ([metrics]), listens on the socket, starts the
  // accept thread and the watchdog. Tells systemd READY=1 (Type=notify)
  // only once containerd answers, from a thread that keeps waiting for it.
  base::Status Serve();
  // SIGHUP: reads the config file again and, when it is valid and changes
  // no restart-only key, swaps in a new Snapshot (README, "Reload"). Returns
  // whether it did; the log says why not.
  bool Reload();
  // The same, for a caller that reports why not (a cloud bundle's ack);
  // why names the trigger in the log ("SIGHUP", "cloud bundle v7").
  // Serialised: SIGHUP and the cloud channel may reload at the same time.
  base::Status ReloadFor(const std::string& why);
  // Stops accepting, removes the socket, lets in-flight calls finish for up
  // to server.drain_timeout_ms, stops the watchdog and flushes the events.
  void Drain();

 private:
  explicit Daemon(Settings settings);
  base::Status BuildParts();
  base::Status BuildFrontEnd(const ProxyDeps& deps);
  base::Status BuildChannel();
  void RecordBundle(const channel::BundleOutcome& outcome);
  // Health/Check: containerd answers and a policy is in force.
  base::Status Healthy() const;
  // What `crigate status` shows; `state` is "serving", "draining" or
  // "stopped". Asks containerd (one Version call) when serving.
  nlohmann::ordered_json StatusNow(const char* state) const;
  base::Result<std::shared_ptr<const Snapshot>> BuildSnapshot(
      std::shared_ptr<const Settings> settings) const;

  // Constant after Build.
  const Settings settings_;
  std::shared_ptr<grpc::Channel> backend_;
  std::unique_ptr<BackendResolver> resolver_;
  std::unique_ptr<policy::TokenGrants> token_grants_;
  policy::PipelineDeps pipeline_deps_;  // for every BuildStages: the same stores
  base::Latest<Snapshot> live_{nullptr};
  std::unique_ptr<policy::StagedPipeline> pipeline_;
  std::unique_ptr<cloud::EventSink> events_;
  std::unique_ptr<channel::MqttChannel> channel_;  // [channel]: bundles down, events up
  std::mutex reload_mu_;                           // serialises ReloadFor
  const std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
  mutable std::mutex reload_news_mu_;
  std::string last_reload_;  // guarded by reload_news_mu_: "SIGHUP at ...: reloaded"
  std::unique_ptr<monitor::Watchdog> watchdog_;
  std::unique_ptr<FollowUp> follow_up_;
  PeerRegistry peers_;
  std::unique_ptr<WorkQueue> work_;
  std::unique_ptr<BackendSandboxFacts> sandbox_facts_;
  std::unique_ptr<ApprovalIssuer> approvals_;
  std::unique_ptr<ApprovalMinter> minter_;
  std::unique_ptr<HealthService> health_;  // the relay answers Health/Check with it
  // The front end: the event loop (server.front_end = "relay") or grpc++.
  std::unique_ptr<h2::Relay> relay_;
  std::thread relay_loop_;
  std::unique_ptr<ProxyService> service_;
  std::unique_ptr<grpc::Server> server_;
  // [metrics]: what the parts hold, read at scrape time, and the endpoint;
  // after the parts it reads, so it is stopped before they go.
  std::unique_ptr<base::Registry> part_metrics_;
  std::unique_ptr<MetricsServer> metrics_;

  // Serving; last: stopped first.
  std::unique_ptr<ServiceStatus> service_status_;  // systemd: READY=1 once containerd answers
  std::unique_ptr<UnixListener> listener_;
  std::thread acceptor_;
  std::unique_ptr<StatusWriter> status_;
};

}  // namespace crigate::cri
