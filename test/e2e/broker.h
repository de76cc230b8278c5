// The cloud's side of the channel in end-to-end tests: the real Mosquitto
// broker that scripts/broker-up.sh started (TLS, client certificates, the
// per-gateway ACL), driven with Mosquitto's own clients as the cloud and as
// other gateways, and the [channel] section that points crigate at it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test/e2e/harness.h"

namespace crigate::test {

class Broker {
 public:
  // From the exports of scripts/broker-up.sh; nullopt with *why when they
  // are missing (the tests then fail: scripts/test.sh starts the broker).
  static std::optional<Broker> FromEnv(std::string* why);

  // FromEnv, then Reset(node): a broker with nothing left for node.
  static std::optional<Broker> ForNode(const std::string& node, std::string* why);

  // "<prefix>/<node>/<leaf>"
  std::string Topic(const std::string& node, const std::string& leaf) const;
  // -h, -p, --cafile, --cert, --key for identity (a gateway or "cloud").
  std::vector<std::string> ClientArgs(const std::string& identity) const;
  const std::string& cloud() const { return cloud_; }
  std::string Address() const { return host_ + ":" + std::to_string(port_); }  // as crigate logs it

  // mosquitto_pub as identity, QoS 1; payload from a file (bundles are long).
  Ran Publish(const std::string& identity, const std::string& topic, const std::string& payload,
              bool retain) const;
  // Forgets what earlier tests left for node: its retained bundle and
  // status, and its persistent session with any queued messages.
  // False with *why when the broker did not take it.
  bool Reset(const std::string& node, std::string* why) const;
  // Ends the persistent session client_id left (a clean-session connection).
  void EndSession(const std::string& identity, const std::string& client_id) const;
  // scripts/broker-down.sh / broker-up.sh; persistence keeps retained
  // messages and sessions across them.
  bool Stop() const;
  bool Start() const;

  // The [channel] section for a crigate that is node (its client
  // certificate), with bundle keys, state and token-key directories.
  std::string ChannelSection(const std::string& node, const std::string& bundle_keys,
                             const std::string& state_dir,
                             const std::string& token_keys_dir = "") const;

 private:
  std::string host_, ca_, pki_, prefix_, cloud_, scripts_;
  int port_ = 0;
};

// A cloud bundle key made with `crigate token keygen`: dir/<kid>.key signs,
// dir/cloud-keys/<kid>.pub is what a gateway's channel.bundle_keys names.
// False with *why when it could not be made.
bool MakeBundleKey(const std::string& dir, const std::string& kid, std::string* why);

// mosquitto_sub in the background (QoS 1, a persistent session of its own
// unless clean), writing "topic payload" lines to a file.
class Subscriber {
 public:
  Subscriber(const Broker& broker, const std::string& identity, const std::string& client_id,
             const std::vector<std::string>& topics, bool clean = false);
  ~Subscriber();  // SIGTERM
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Every message so far, as {topic, payload}.
  std::vector<std::pair<std::string, std::string>> Messages() const;
  // Waits until at least count messages on topic contain needle.
  bool WaitFor(const std::string& topic, const std::string& needle, size_t count,
               std::chrono::milliseconds limit) const;
  size_t Count(const std::string& topic, const std::string& needle) const;
  std::string Log() const;  // its stderr

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
};

}  // namespace crigate::test
