// The cloud channel's client: one MQTT connection to the broker (libmosquitto,
// TLS with this gateway's client certificate, MQTT 3.1.1, a persistent
// session, QoS 1), driven by a thread of its own.
//
//   <prefix>/<node>/policy      down, retained: signed bundles -> BundleApplier
//   <prefix>/<node>/policy/ack  up: {"node","version","result","in_force","reason",...}
//   <prefix>/<node>/events      up: watchdog stops, from the on-disk spool
//   <prefix>/<node>/status      up, retained: "online" with node facts on connect;
//                               "offline" as the Last Will, and on a clean stop
//
// Events are spooled before Post returns and published one at a time,
// oldest first; one leaves the spool when its PUBACK arrives. A broker that
// is away costs nothing but spool space: the thread reconnects with a
// doubling backoff (reconnect_min..reconnect_max), and what waited is sent
// in order. Each event carries an "id" (random, 128 bits), so a cloud that
// sees an event twice (a PUBACK lost with the connection) can tell.
//
// libmosquitto's own loop thread (mosquitto_loop_start) is not used: after a
// broker is killed it can stop reconnecting (seen here with OpenSSL 3), and a
// thread of our own also gives the spool its one place to run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "policy/base/status.h"
#include "policy/channel/bundle.h"
#include "policy/channel/channel_config.h"
#include "policy/channel/event_spool.h"

struct mosquitto;
struct mosquitto_message;

namespace crigate::channel {

struct NodeFacts {
  std::string id;
  std::string mac;
  std::string crigate_version;
};

struct ChannelStats {
  bool connected = false;
  uint64_t connects = 0;  // CONNACKs accepted
  uint64_t connection_losses = 0;
  uint64_t bundles_applied = 0;
  uint64_t bundles_refused = 0;
  uint64_t events_sent = 0;     // acknowledged by the broker
  uint64_t policy_version = 0;  // the bundle version in force (0: none yet)
  SpoolStats spool;
  std::string last_error;
};

class MqttChannel final {
 public:
  // Called on the channel's thread after every bundle (the daemon logs and
  // audits it). May be empty.
  using OutcomeHook = std::function<void(const BundleOutcome&)>;
  // Connection news for the log, on the channel's thread: connected, lost
  // (once per loss, not per retry), refused by the broker. May be empty.
  using LogHook = std::function<void(bool warning, const std::string& message)>;

  // Checks the key and password files (owner, mode) and sets the client up;
  // nothing is sent before Start. Post works from here on (it spools).
  static base::Result<std::unique_ptr<MqttChannel>> Create(ChannelConfig config, NodeFacts node,
                                                           std::unique_ptr<EventSpool> spool,
                                                           std::unique_ptr<BundleApplier> bundles,
                                                           OutcomeHook on_outcome,
                                                           LogHook log = {});
  ~MqttChannel();
  // Starts the thread, which connects in the background: a broker that is
  // away at start is not an error. Bundles are applied from here on, so the
  // daemon starts the channel once every part a reload touches is built.
  void Start();
  MqttChannel(const MqttChannel&) = delete;
  MqttChannel& operator=(const MqttChannel&) = delete;

  // Thread-safe. Adds "id", "node" and "time" (unless set) and spools the
  // event; OK once it is on disk. Ignored (FAILED_PRECONDITION) after Stop.
  base::Status Post(nlohmann::json event);

  // Publishes "offline" (retained) if connected, disconnects and joins. What
  // is still spooled stays for the next start. Idempotent.
  void Stop();

  ChannelStats stats() const;

 private:
  MqttChannel(ChannelConfig config, NodeFacts node, std::unique_ptr<EventSpool> spool,
              std::unique_ptr<BundleApplier> bundles, OutcomeHook on_outcome, LogHook log,
              std::string password);
  void Note(bool warning, const std::string& message) const {
    if (log_) log_(warning, message);
  }

  void Run();
  bool Setup();
  void PumpEvents();
  void Publish(const std::string& topic, const std::string& payload, bool retain);
  std::string StatusPayload(const char* state, const char* reason) const;
  void WaitBackoff(std::chrono::milliseconds delay);
  bool StopRequested() const;
  // A TCP connection to the broker succeeds within kConnectTimeout (and is
  // closed again); false with *why on refusal, timeout, or Stop.
  bool BrokerAnswers(std::string* why) const;

  // libmosquitto's callbacks, on the channel's thread.
  static void OnConnect(mosquitto* m, void* self, int rc);
  static void OnDisconnect(mosquitto* m, void* self, int rc);
  static void OnMessage(mosquitto* m, void* self, const mosquitto_message* message);
  static void OnPublish(mosquitto* m, void* self, int mid);

  // Constant after construction.
  const ChannelConfig config_;
  const NodeFacts node_;
  const std::unique_ptr<EventSpool> spool_;       // thread-safe
  const std::unique_ptr<BundleApplier> bundles_;  // channel thread only
  const OutcomeHook on_outcome_;
  const LogHook log_;
  const std::string password_;
  const std::string policy_topic_, ack_topic_, events_topic_, status_topic_;

  // Channel thread only.
  mosquitto* mosq_ = nullptr;
  bool session_ = false;        // CONNACK accepted, not lost since
  bool reported_loss_ = false;  // the current outage is in the log already
  uint64_t inflight_seq_ = 0;   // the event awaiting its PUBACK; 0: none
  int inflight_mid_ = -1;
  std::chrono::steady_clock::time_point inflight_since_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  ChannelStats stats_;     // guarded by mu_ (spool filled on read)
  std::thread thread_;     // last: started when everything above exists
};

}  // namespace crigate::channel
