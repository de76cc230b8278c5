// The [channel] section: crigate's MQTT client to the cloud's broker.
// Off by default. Every key (README, "Cloud channel"):
//
//   [channel]
//   enabled = false
//   host = "127.0.0.1"              the broker (a name must match its certificate)
//   port = 8883
//   tls = true                      false only for a broker on loopback
//   ca_file = ""                    the broker's CA (required with tls)
//   cert_file = ""                  this gateway's client certificate (mTLS)
//   key_file = ""                   its key: owner root, mode 0600
//   username = ""                   optional, with password_file (owner root, 0600)
//   password_file = ""
//   client_id = <node.id>           also the persistent session's name
//   prefix = "crigate"              topics <prefix>/<node.id>/{policy,policy/ack,events,status}
//   keepalive = "30s"
//   reconnect_min_ms = 500          backoff after a lost connection, doubling
//   reconnect_max_ms = 30000
//   bundle_keys = ["/etc/crigate/cloud-keys"]   PEM public keys that may sign bundles
//   token_keys_dir = ""             where a bundle's token keys are written; must be
//                                   one of token.keys; "" refuses bundles with keys
//   state_dir = "/var/lib/crigate/channel"      policy-version and the event spool
//   spool_max_events = 10000        events kept while the broker is away; past it
//                                   the oldest are dropped (and counted)
//
// The whole section takes a restart to change (cri/daemon/settings.cc).
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace crigate::channel {

struct ChannelConfig {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int port = 8883;
  bool tls = true;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string username;
  std::string password_file;
  std::string client_id;  // "" until filled with node.id
  std::string prefix = "crigate";
  std::chrono::seconds keepalive{30};
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{30000};
  std::vector<std::string> bundle_keys{"/etc/crigate/cloud-keys"};
  std::string token_keys_dir;
  std::string state_dir = "/var/lib/crigate/channel";
  size_t spool_max_events = 10000;

  // <prefix>/<node>/<leaf>
  std::string Topic(const std::string& node, const char* leaf) const;
};

// root's [channel] (absent: the defaults, disabled). node_id fills
// client_id's default. One message per bad key in errors.
ChannelConfig ParseChannelConfig(const toml::table& root, const std::string& node_id,
                                 std::vector<std::string>& errors);

}  // namespace crigate::channel
