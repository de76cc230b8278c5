#include "cri/daemon/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace crigate::cri {
namespace {

std::vector<std::string> ParseMetrics(const std::string& text, MetricsConfig* config) {
  std::vector<std::string> errors;
  *config = ParseMetricsConfig(toml::parse(text), errors);
  return errors;
}

bool HasError(const std::vector<std::string>& errors, const std::string& text) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(MetricsConfig, OffByDefaultOnLoopback) {
  MetricsConfig config;
  EXPECT_TRUE(ParseMetrics("", &config).empty());
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.listen, "127.0.0.1:9482");
  EXPECT_EQ(config.threads, 1);
}

TEST(MetricsConfig, ReadsEveryKey) {
  MetricsConfig config;
  EXPECT_TRUE(
      ParseMetrics("[metrics]\nenabled = true\nlisten = \"[::1]:9100\"\nthreads = 2\n", &config)
          .empty());
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.listen, "[::1]:9100");
  EXPECT_EQ(config.threads, 2);
  EXPECT_TRUE(ParseMetrics("[metrics]\nlisten = \"127.1.2.3:1\"\n", &config).empty());
}

TEST(MetricsConfig, RefusesAnAddressOffLoopback) {
  MetricsConfig config;
  for (const char* listen : {"0.0.0.0:9482", "10.0.0.5:9482", "[::]:9482", "localhost:9482", "9482",
                             "[fe80::1]:9482", "128.0.0.1:9482"}) {
    std::vector<std::string> errors = ParseMetrics(
        std::string("[metrics]\nenabled = true\nlisten = \"") + listen + "\"\n", &config);
    EXPECT_TRUE(HasError(errors, "metrics.listen: ")) << listen;
  }
  EXPECT_TRUE(HasError(ParseMetrics("[metrics]\nlisten = \"10.0.0.5:9482\"\n", &config),
                       "10.0.0.5 is not a loopback address"));
}

TEST(MetricsConfig, RefusesBadPortsThreadsAndUnknownKeys) {
  MetricsConfig config;
  EXPECT_TRUE(HasError(ParseMetrics("[metrics]\nlisten = \"127.0.0.1:70000\"\n", &config),
                       "metrics.listen: the port"));
  EXPECT_TRUE(HasError(ParseMetrics("[metrics]\nthreads = 3\n", &config), "metrics.threads"));
  EXPECT_TRUE(HasError(ParseMetrics("[metrics]\nport = 1\n", &config), "metrics.port"));
}

// The status code of an HTTP answer ("HTTP/1.x 200 OK" gives "200").
std::string StatusOf(const std::string& answer) {
  return answer.rfind("HTTP/1.", 0) == 0 && answer.size() > 12 ? answer.substr(9, 3) : answer;
}

// One HTTP/1.0 exchange with the server; the whole answer.
std::string HttpExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string answer;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, static_cast<size_t>(n));
  close(fd);
  return answer;
}

base::Result<std::unique_ptr<MetricsServer>> StartOnAnyPort(const base::Registry* registry) {
  MetricsConfig config;
  config.enabled = true;
  config.listen = "127.0.0.1:0";
  return MetricsServer::Start(config, {registry});
}

TEST(MetricsServer, ServesTheExpositionOnGetMetrics) {
  base::Registry registry;
  registry.Counters("crigate_test_total", "A test counter.").With({}).Inc(3);
  auto server = StartOnAnyPort(&registry);
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_GT((*server)->port(), 0);
  const std::string answer = HttpExchange((*server)->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), "200") << answer;
  EXPECT_NE(answer.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\n\r\n# HELP crigate_test_total A test counter.\n"
                        "# TYPE crigate_test_total counter\ncrigate_test_total 3\n"),
            std::string::npos)
      << answer;
}

TEST(MetricsServer, EverythingElseIsNotFound) {
  base::Registry registry;
  registry.Counters("crigate_test_total", "A test counter.").With({}).Inc();
  auto server = StartOnAnyPort(&registry);
  ASSERT_TRUE(server.ok()) << server.error();
  for (const char* request :
       {"GET / HTTP/1.0\r\n\r\n", "GET /metrics/x HTTP/1.0\r\n\r\n",
        "GET /etc/passwd HTTP/1.0\r\n\r\n", "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        "PUT /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n"}) {
    const std::string answer = HttpExchange((*server)->port(), request);
    EXPECT_EQ(StatusOf(answer), "404") << request << answer;
    EXPECT_EQ(answer.find("crigate_test_total"), std::string::npos) << request;
  }
}

TEST(MetricsServer, AnAddressInUseIsAStartError) {
  base::Registry registry;
  auto first = StartOnAnyPort(&registry);
  ASSERT_TRUE(first.ok()) << first.error();
  MetricsConfig config;
  config.listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(config, {&registry});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("metrics.listen: cannot serve metrics on " + config.listen),
            std::string::npos)
      << second.error();
}

}  // namespace
}  // namespace crigate::cri
