#include "policy/channel/channel_config.h"

#include <fmt/format.h>

#include "policy/base/toml_fields.h"

namespace crigate::channel {

std::string ChannelConfig::Topic(const std::string& node, const char* leaf) const {
  return fmt::format("{}/{}/{}", prefix, node, leaf);
}

ChannelConfig ParseChannelConfig(const toml::table& root, const std::string& node_id,
                                 std::vector<std::string>& errors) {
  ChannelConfig c;
  const toml::table* section = base::SectionOf(root, "channel", errors);
  base::TomlFields f(section, "channel", errors);
  f.RejectUnknown({"enabled", "host", "port", "tls", "ca_file", "cert_file", "key_file", "username",
                   "password_file", "client_id", "prefix", "keepalive", "reconnect_min_ms",
                   "reconnect_max_ms", "bundle_keys", "token_keys_dir", "state_dir",
                   "spool_max_events"});
  f.Bool("enabled", c.enabled);
  f.String("host", c.host);
  f.Int("port", 1, 65535, c.port);
  f.Bool("tls", c.tls);
  f.String("ca_file", c.ca_file, true);
  f.String("cert_file", c.cert_file, true);
  f.String("key_file", c.key_file, true);
  f.String("username", c.username, true);
  f.String("password_file", c.password_file, true);
  c.client_id = node_id;
  f.String("client_id", c.client_id);
  f.String("prefix", c.prefix);
  f.Duration("keepalive", std::chrono::seconds(5), std::chrono::seconds(3600), c.keepalive);
  f.Millis("reconnect_min_ms", 10, 600000, c.reconnect_min);
  f.Millis("reconnect_max_ms", 10, 3600000, c.reconnect_max);
  f.StringList("bundle_keys", c.bundle_keys);
  f.String("token_keys_dir", c.token_keys_dir, true);
  f.String("state_dir", c.state_dir);
  f.Size("spool_max_events", 1, 10000000, c.spool_max_events);
  if (!c.enabled) return c;

  // MQTT topic names: the prefix and node id are path segments, and a
  // wildcard or an empty level would widen what this client subscribes to.
  auto topic_safe = [](const std::string& s) {
    return !s.empty() && s.find_first_of("+#\0", 0, 3) == std::string::npos && s.front() != '/' &&
           s.back() != '/' && s.find("//") == std::string::npos;
  };
  if (!topic_safe(c.prefix)) {
    f.Error("prefix",
            "must be MQTT topic levels without + or # (e.g. \"crigate\" or \"fleet/edge\")");
  }
  if (!topic_safe(node_id) || node_id.find('/') != std::string::npos) {
    errors.push_back(
        "node.id: the cloud channel addresses this node by it, so it must be one "
        "MQTT topic level (no /, + or #)");
  }
  if (c.reconnect_max < c.reconnect_min) f.Error("reconnect_max_ms", "is below reconnect_min_ms");
  if (c.tls) {
    if (c.ca_file.empty()) f.Error("ca_file", "required with tls (the broker's CA)");
    if (c.cert_file.empty() != c.key_file.empty()) {
      f.Error(c.cert_file.empty() ? "cert_file" : "key_file",
              "cert_file and key_file go together (the gateway's client certificate)");
    }
  } else if (c.host != "127.0.0.1" && c.host != "localhost" && c.host != "::1") {
    f.Error("tls", "may be false only for a broker on loopback (host 127.0.0.1)");
  }
  if (c.cert_file.empty() && c.username.empty()) {
    f.Error("cert_file", "the broker must know this gateway: set cert_file/key_file or username");
  }
  if (!c.username.empty() && c.password_file.empty()) {
    f.Error("password_file", "required with username");
  }
  if (c.bundle_keys.empty()) f.Error("bundle_keys", "names no key, so no bundle could be accepted");
  return c;
}

}  // namespace crigate::channel
