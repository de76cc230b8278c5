// The [cloud] section of crigate's TOML file. Parsed once, validated in full
// (including reading the node key and checking that the TLS files are
// readable), then immutable and shared by the cloud stage and the event sink.
//
// Every key has a default; every error names its key
// ("cloud.timeout_ms: must be between 1 and 60000"); unknown keys are errors.
//
//   [cloud]  enabled = false
//            url = ""                    decision endpoint; required when enabled.
//                                        https://..., or http:// to a loopback address only
//            events_url = ""             event endpoint; "" sends no events
//            timeout_ms = 2000           whole call, connect included
//            connect_timeout_ms = 1000   capped at timeout_ms
//            ca_file = ""                CA bundle for the server (https); "" the system's
//            cert_file = ""              client certificate (mTLS); with key_file, https only
//            key_file = ""               client private key
//            node_key_file = "/etc/crigate/node.key"   HMAC key; owner-only (0600)
//            node_mac = ""               "" reads /sys/class/net/<first non-lo>/address
//            cache_ttl_ms = 5000         how long an allow is reused; 0 caches nothing
//            cache_size = 10000          allows kept at most; 0 caches nothing
//            failure_mode_allow = false  true: no answer (down, timeout, non-200) lets calls go on
//            event_queue_size = 1000     events held while the cloud is away; oldest dropped
//            event_retry_max = 5         retries of one batch of events before it is dropped
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace crigate::cloud {

struct CloudConfig {
  bool enabled = false;
  std::string url;
  std::string events_url;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds connect_timeout{1000};  // already capped at timeout
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string node_key_file = "/etc/crigate/node.key";
  std::string node_mac;  // as configured, else as found at parse time ("" when none)
  std::chrono::milliseconds cache_ttl{5000};
  size_t cache_size = 10000;
  bool failure_mode_allow = false;
  size_t event_queue_size = 1000;
  int event_retry_max = 5;

  std::string node_key;  // node_key_file's contents, trailing whitespace removed; never logged
};

// Null with one message per problem in errors. An absent section is a
// disabled cloud. When the cloud is disabled, only the types and ranges of
// the keys are checked: no file is read.
std::shared_ptr<const CloudConfig> ParseCloudConfig(const toml::table& root,
                                                    std::vector<std::string>& errors);

// The section ParseCloudConfig reads.
inline constexpr const char* kCloudSection = "cloud";

// Reads a node key file: owner-only permissions (no group or other bits), at
// least 16 bytes after trailing whitespace is removed. Empty with a message
// in error otherwise. Used at config load and on reload.
std::string ReadNodeKey(const std::string& path, std::string& error);

// The MAC address of the first interface (by name) under sys_class_net that
// is not "lo" and has a non-zero address; "" when there is none.
std::string FirstInterfaceMac(const std::string& sys_class_net = "/sys/class/net");

}  // namespace crigate::cloud
