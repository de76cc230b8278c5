// Metrics against the real thing: crigate with [metrics] on a loopback port,
// Debian's real Prometheus scraping it every second, a denial and a
// watchdog stop caused through the real containerd, and both read back from
// Prometheus' own query API. The exposition is also checked with the
// reference parser (prometheus_client, test/e2e/check_exposition.py).
//
// Named Monitor*: it runs a CPU burner for the watchdog, so it runs alone
// (test/e2e/CMakeLists.txt).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using namespace std::chrono_literals;

// Debian's Prometheus as a child that dies with the test (PR_SET_PDEATHSIG),
// scraping one target every second, its data in dir.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, int target_port) : log_(dir + "/prometheus.log") {
    port_ = UnusedLoopbackPort();
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          << "scrape_configs:\n  - job_name: crigate\n    static_configs:\n"
                          << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    std::vector<std::string> argv = {"/usr/bin/prometheus", "--config.file=" + config,
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--storage.tsdb.path=" + dir + "/tsdb", "--log.level=warn"};
    pid_ = SpawnChild(argv, log_, log_);
  }
  ~PrometheusProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  // The instant vector of an expression, as the API's data.result; nullopt
  // when Prometheus does not answer (yet).
  std::optional<nlohmann::json> Query(const std::string& expression) const {
    Ran ran = RunProgram({"/usr/bin/curl", "-sS", "--max-time", "5", "--get", "--data-urlencode",
                          "query=" + expression,
                          "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/query"});
    if (ran.code != 0) return std::nullopt;
    nlohmann::json answer = nlohmann::json::parse(ran.out, nullptr, false);
    if (answer.is_discarded() || answer.value("status", "") != "success") return std::nullopt;
    return answer["data"]["result"];
  }

  // Polls expression until it has at least one series, or limit passes.
  nlohmann::json WaitFor(const std::string& expression, std::chrono::seconds limit) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    nlohmann::json result = nlohmann::json::array();
    while (std::chrono::steady_clock::now() < until) {
      if (std::optional<nlohmann::json> r = Query(expression); r && !r->empty()) return *r;
      std::this_thread::sleep_for(500ms);
    }
    return result;
  }

  std::string Log() const { return ReadFile(log_); }

 private:
  std::string log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The value of a one-series result, as Prometheus gives it ("1").
std::string SeriesValue(const nlohmann::json& result) {
  if (!result.is_array() || result.size() != 1) return "<" + result.dump() + ">";
  return result[0]["value"][1].get<std::string>();
}

class MonitorMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(stat(ContainerdSocket().c_str(), &st), 0) << "containerd is not running";
    ASSERT_EQ(stat("/usr/bin/prometheus", &st), 0) << "prometheus is not installed";
  }
  void TearDown() override { RemoveFromContainerd(containers_, pods_); }

  std::vector<std::string> pods_, containers_;
};

TEST_F(MonitorMetrics, PrometheusSeesADenialAndAWatchdogStop) {
  const int metrics_port = UnusedLoopbackPort();
  CrigateProcess::Options options;
  options.monitor = true;
  options.server_extra = "socket_mode = \"0666\"";  // an ordinary uid must reach it to be denied
  options.body = std::string(kBurnerMonitorConfig) +
                 "[metrics]\nenabled = true\nlisten = \"127.0.0.1:" + std::to_string(metrics_port) +
                 "\"\n";
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  const std::string dir = ScratchDir();
  PrometheusProcess prometheus(dir, metrics_port);

  // A denial: an ordinary uid may reach the socket, but not remove an image
  // (the privilege stage).
  auto [code, message] = ProbeAs(65534, 65534, gate.socket(), "remove-image", kBusyboxLatest);
  ASSERT_EQ(code, 7) << message;  // PERMISSION_DENIED

  // A watchdog stop: a container spinning under half a CPU.
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("metrics-burner", gate.dir());
  std::string pod_id, id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok());
  pods_.push_back(pod_id);
  auto config = Container("burner", kBusybox, {"sh", "-c", "while :; do :; done"});
  config.mutable_linux()->mutable_resources()->set_cpu_period(100000);
  config.mutable_linux()->mutable_resources()->set_cpu_quota(50000);
  ASSERT_TRUE(cri.CreateContainer(pod_id, config, pod, &id).ok());
  containers_.push_back(id);
  ASSERT_TRUE(cri.StartContainer(id).ok());

  // Both, as Prometheus scraped them.
  nlohmann::json denied =
      prometheus.WaitFor("crigate_decisions_total{action=\"RemoveImage\",verdict=\"deny\"}", 60s);
  ASSERT_EQ(denied.size(), 1u) << denied.dump() << prometheus.Log() << gate.Log();
  EXPECT_EQ(denied[0]["metric"]["stage"], "privilege") << denied.dump();
  EXPECT_EQ(SeriesValue(denied), "1");
  nlohmann::json call = prometheus.WaitFor(
      "crigate_calls_total{method=\"RemoveImage\",outcome=\"PERMISSION_DENIED\"}", 30s);
  ASSERT_EQ(call.size(), 1u) << call.dump();
  EXPECT_EQ(call[0]["metric"]["class"], "gated") << call.dump();
  EXPECT_EQ(SeriesValue(call), "1");

  nlohmann::json stops = prometheus.WaitFor("crigate_watchdog_stops_total", 60s);
  ASSERT_EQ(stops.size(), 1u) << stops.dump() << gate.Log();
  EXPECT_EQ(stops[0]["metric"]["resource"], "cpu") << stops.dump();
  EXPECT_EQ(stops[0]["metric"]["result"], "ok") << stops.dump();
  EXPECT_EQ(SeriesValue(stops), "1");
  // The stop followed samples over the threshold (monitor.samples = 3).
  nlohmann::json breaches =
      prometheus.WaitFor("crigate_watchdog_breaches_total{resource=\"cpu\"} >= 3", 30s);
  EXPECT_EQ(breaches.size(), 1u) << breaches.dump();
  // Allowed calls were counted too: the burner's pod and container.
  EXPECT_EQ(SeriesValue(prometheus.WaitFor(
                "crigate_decisions_total{action=\"StartContainer\",verdict=\"allow\"}", 30s)),
            "1");
  nlohmann::json build = prometheus.WaitFor("crigate_build_info", 30s);
  ASSERT_EQ(build.size(), 1u) << build.dump();
  EXPECT_FALSE(build[0]["metric"].value("version", "").empty()) << build.dump();

  // The exposition itself, through the reference parser.
  Ran scrape = RunProgram({"/usr/bin/curl", "-sS", "--max-time", "5",
                           "http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics"});
  ASSERT_EQ(scrape.code, 0) << scrape.err;
  const std::string exposition = dir + "/metrics.txt";
  WriteFile(exposition, scrape.out);
  Ran parsed = RunProgram({"/bin/sh", "-c",
                           std::string("/usr/bin/python3 ") + CRIGATE_E2E_DIR +
                               "/check_exposition.py < " + exposition});
  ASSERT_EQ(parsed.code, 0) << parsed.err << scrape.out;
  for (const char* family :
       {"crigate_calls counter\n", "crigate_decisions counter\n",
        "crigate_passthrough_duration_seconds histogram\n",
        "crigate_stage_duration_seconds histogram\n", "crigate_watchdog_stops counter\n",
        "crigate_watchdog_samples counter\n", "crigate_build_info gauge\n"}) {
    EXPECT_NE(parsed.out.find(family), std::string::npos) << family << parsed.out;
  }
  EXPECT_NE(parsed.out.find("sample crigate_watchdog_stops_total {\"resource\": \"cpu\", "
                            "\"result\": \"ok\"} 1.0\n"),
            std::string::npos)
      << parsed.out;
  // Anything but GET /metrics is not served.
  Ran other = RunProgram({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "http://127.0.0.1:" + std::to_string(metrics_port) + "/"});
  EXPECT_EQ(other.out, "404");
}

}  // namespace
}  // namespace crigate::test
