// The Prometheus endpoint: GET /metrics on a loopback TCP port, served by
// civetweb (the embedded HTTP server prometheus-cpp uses, from Debian) on at
// most two threads of its own, so that a scrape never runs on the relay's
// event loop or a decision thread. Everything but GET /metrics is 404.
//
// [metrics] in crigate's TOML file (every key takes a restart):
//   enabled = false                off by default
//   listen = "127.0.0.1:9482"      an IP literal on loopback (127.0.0.0/8 or [::1]) and a port
//   threads = 1                    civetweb's worker threads, 1 or 2
#pragma once

#include <toml++/toml.h>

#include <memory>
#include <string>
#include <vector>

#include "policy/base/metrics.h"
#include "policy/base/status.h"

struct mg_context;
struct mg_connection;

namespace crigate::cri {

struct MetricsConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:9482";  // as civetweb takes it: "127.0.0.1:9482", "[::1]:9482"
  int threads = 1;
};

// Reads root's [metrics]; one message per bad key in errors, each naming it
// ("metrics.listen: ..."). A host that is not a loopback IP literal is an
// error: the endpoint has no authentication.
MetricsConfig ParseMetricsConfig(const toml::table& root, std::vector<std::string>& errors);

class MetricsServer final {
 public:
  // Listens on config.listen and serves the registries' expositions, one
  // after the other, at every scrape. The registries must outlive the
  // server. An address that cannot be bound is an error (crigate does not
  // start).
  static base::Result<std::unique_ptr<MetricsServer>> Start(
      const MetricsConfig& config, std::vector<const base::Registry*> registries);
  // Stops serving; a scrape in progress finishes first.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (the configured one; the real one when it was 0).
  int port() const { return port_; }

 private:
  explicit MetricsServer(std::vector<const base::Registry*> registries)
      : registries_(std::move(registries)) {}
  static int Handle(mg_connection* conn, void* self);

  // Constant after Start.
  const std::vector<const base::Registry*> registries_;
  int port_ = 0;
  // Last: stopped first, while what it serves is still there.
  mg_context* context_ = nullptr;
};

}  // namespace crigate::cri
