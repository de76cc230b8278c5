// Events for the cloud (the monitor's stops, denials), delivered best effort:
// Post never blocks the caller, events wait in a bounded queue (the oldest is
// dropped, and counted, when it is full), one background thread sends them
// in batches with the authorizer's signing and mTLS, retrying with backoff.
//
//   POST <events_url>   {"events": [ {...}, ... ]}      any 2xx: delivered
//
// Each event is the caller's JSON object plus, unless it set them itself,
// "time" (UTC, milliseconds), "node" ({"id", "mac"}) and "seq" (per process).
//
// Daemon usage (cri/daemon/daemon.cc):
//   auto sink = cloud::MakeEventSink(*cloud_config, node_id);   // null: events_url not set
//   monitor:   if (sink) sink->Post({{"type", "monitor_stop"}, {"container_id", id}, ...});
//   on exit:   sink->Shutdown(std::chrono::seconds(2));
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "policy/base/status.h"
#include "policy/cloud/authz_input.h"
#include "policy/cloud/cloud_config.h"
#include "policy/cloud/signed_http_client.h"
#include "policy/result.h"

namespace crigate::cloud {

struct EventSinkOptions {
  NodeIdentity node;
  size_t queue_size = 1000;  // events waiting, at most (besides one batch in flight)
  size_t batch_max = 64;     // events per POST
  int retry_max = 5;         // retries of one batch before it is dropped
  std::chrono::milliseconds backoff_initial{250};  // doubled per retry
  std::chrono::milliseconds backoff_max{10000};
};

struct EventSinkStats {
  uint64_t posted = 0;            // Post calls
  uint64_t delivered = 0;         // events the cloud acknowledged
  uint64_t dropped_full = 0;      // pushed out of a full queue
  uint64_t dropped_failed = 0;    // their batch ran out of retries
  uint64_t dropped_shutdown = 0;  // still waiting when the flush deadline passed
  uint64_t retries = 0;           // failed POSTs that were retried
  size_t queued = 0;              // waiting now, the batch in flight included
  std::string last_error;         // of the last failed POST
};

class EventSink final {
 public:
  // Starts the sending thread. The client signs every batch with the signer
  // its Source gives at that moment (a reload swaps the node key in).
  EventSink(EventSinkOptions options, std::unique_ptr<SignedHttpClient> client);
  // Shutdown with a one-second flush, unless already shut down.
  ~EventSink();
  EventSink(const EventSink&) = delete;
  EventSink& operator=(const EventSink&) = delete;

  // Thread-safe; takes a lock for a queue push, never waits for the network.
  // Ignored after Shutdown.
  void Post(nlohmann::json event);

  // Stops taking events, keeps sending what is queued until it is empty or
  // flush_deadline has passed, then joins the thread. POSTs started while
  // flushing are cut at the deadline; one already in flight when Shutdown is
  // called can run to its own timeout (cloud.timeout_ms). Idempotent.
  void Shutdown(std::chrono::milliseconds flush_deadline);

  EventSinkStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;

  void Run();
  std::string BatchBody() const;  // of batch_; only on the sending thread

  // Constant after construction.
  const EventSinkOptions options_;
  const std::unique_ptr<SignedHttpClient> client_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<nlohmann::json> queue_;  // protected by mu_
  bool stopping_ = false;             // protected by mu_
  Clock::time_point deadline_;        // protected by mu_; valid once stopping_
  uint64_t seq_ = 0;                  // protected by mu_
  EventSinkStats stats_;              // protected by mu_ (queued computed on read)

  // The batch in flight: written only by the sending thread with mu_ held,
  // read by it without the lock, and by stats() with it.
  std::vector<nlohmann::json> batch_;
  std::mutex shutdown_mu_;  // serialises Shutdown
  std::thread thread_;      // last: started when everything above exists
};

// The sink for config's events_url with the TLS files of config; null (OK)
// when the cloud is disabled or events_url is not set. Batches are signed by
// signer's current NodeSigner; without one, by config.node_key for good.
policy::Result<std::unique_ptr<EventSink>> MakeEventSink(const CloudConfig& config,
                                                         const std::string& node_id,
                                                         base::Source<NodeSigner> signer = {});

}  // namespace crigate::cloud
