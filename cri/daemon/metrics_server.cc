#include "cri/daemon/metrics_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <fmt/format.h>

#include <cstring>
#include <string_view>

#include "policy/base/text.h"
#include "policy/base/toml_fields.h"

namespace crigate::cri {
namespace {

// host:port with host an IPv4 literal in 127.0.0.0/8, or [::1]; the port in
// 0..65535 (0: any free port, for tests). Why not, or "".
std::string CheckLoopback(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return "must be host:port, such as \"127.0.0.1:9482\"";
  }
  std::string host = listen.substr(0, colon);
  const std::optional<uint64_t> port =
      base::ParseDecimal(std::string_view(listen).substr(colon + 1));
  if (!port || *port > 65535) return "the port must be a number from 0 to 65535";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&v6)) {
      return "";
    }
  } else {
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) return "";
  }
  return fmt::format(
      "{} is not a loopback address: metrics have no authentication and are served on "
      "loopback only (an IP literal in 127.0.0.0/8, or [::1])",
      base::Printable(host, 100));
}

}  // namespace

MetricsConfig ParseMetricsConfig(const toml::table& root, std::vector<std::string>& errors) {
  MetricsConfig config;
  const toml::table* table = base::SectionOf(root, "metrics", errors);
  if (table == nullptr) return config;
  base::TomlFields fields(table, "metrics", errors);
  fields.RejectUnknown({"enabled", "listen", "threads"});
  fields.Bool("enabled", config.enabled);
  fields.String("listen", config.listen);
  if (std::string why = CheckLoopback(config.listen); !why.empty()) fields.Error("listen", why);
  fields.Int("threads", 1, 2, config.threads);
  return config;
}

base::Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const MetricsConfig& config, std::vector<const base::Registry*> registries) {
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(registries)));
  const std::string threads = std::to_string(config.threads);
  // No document_root: civetweb serves no files, only the handler below.
  const char* options[] = {"listening_ports",
                           config.listen.c_str(),
                           "num_threads",
                           threads.c_str(),
                           "request_timeout_ms",
                           "10000",
                           "enable_keep_alive",
                           "yes",
                           nullptr};
  mg_callbacks callbacks{};
  // civetweb would print its own errors to stderr; they come back to Start
  // through error below instead.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char text[256] = {};
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof(text)};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return base::Status::Unavailable(
        fmt::format("metrics.listen: cannot serve metrics on {}: {}", config.listen,
                    text[0] != '\0' ? text : "civetweb did not start"));
  }
  mg_set_request_handler(server->context_, "/", &MetricsServer::Handle, server.get());
  mg_server_port ports[1] = {};
  if (mg_get_server_ports(server->context_, 1, ports) == 1) server->port_ = ports[0].port;
  return server;
}

MetricsServer::~MetricsServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int MetricsServer::Handle(mg_connection* conn, void* self) {
  const mg_request_info* request = mg_get_request_info(conn);
  if (std::strcmp(request->request_method, "GET") != 0 ||
      std::strcmp(request->local_uri, "/metrics") != 0) {
    mg_send_http_error(conn, 404, "%s", "Not found: crigate serves GET /metrics only\n");
    return 404;
  }
  std::string body;
  for (const base::Registry* registry : static_cast<MetricsServer*>(self)->registries_) {
    body += registry->Exposition();
  }
  mg_send_http_ok(conn, "text/plain; version=0.0.4; charset=utf-8",
                  static_cast<long long>(body.size()));
  mg_write(conn, body.data(), body.size());
  return 200;
}

}  // namespace crigate::cri
