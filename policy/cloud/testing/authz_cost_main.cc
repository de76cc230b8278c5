// Measures what one cloud authorization costs on loopback: the cloud stage
// with the real transport against the reference authorizer (http, and https
// with mTLS), uncached and cached, and against a raw server that closes every
// connection (no reuse). Not a test: run it by hand.
//
//   cloud_authz_cost [calls]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "policy/cloud/cloud_stage.h"
#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using Steady = std::chrono::steady_clock;
const std::string kKey = "0123456789abcdef0123456789abcdef";

policy::GateRequest Request(int i) {
  policy::GateRequest r;
  r.action = "CreateContainer";
  r.image = "docker.io/library/busybox:latest";
  r.caller = {100, static_cast<uid_t>(i), 0, true};
  policy::PodInfo pod;
  pod.name = "web";
  pod.namespace_ = "default";
  r.pod = pod;
  return r;
}

void Report(const std::string& what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  double sum = 0;
  for (double u : us) sum += u;
  fmt::print("{:<44} n={:<5} mean={:>8.1f}us p50={:>8.1f}us p90={:>8.1f}us p99={:>8.1f}us\n", what,
             us.size(), sum / us.size(), at(0.5), at(0.9), at(0.99));
}

// Every call a new question (distinct uid), so nothing is served from the cache.
void Measure(const std::string& what, CloudStage& stage, int calls, int offset = 0) {
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    policy::CallState state;
    const auto start = Steady::now();
    policy::StageResult r = stage.Check(Request(offset + i), state);
    us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
    if (r.verdict != policy::Verdict::kAllow) {
      fmt::print("{}: call {} not allowed: {}\n", what, i, r.reason);
      return;
    }
  }
  Report(what, us);
}

void MeasureCached(const std::string& what, CloudStage& stage, int calls) {
  policy::CallState warm;
  stage.Check(Request(0), warm);
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    policy::CallState state;
    const auto start = Steady::now();
    stage.Check(Request(0), state);
    us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
  }
  Report(what, us);
}

int Main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 300;
  testing::TempDir dir;
  const std::string rules =
      dir.Write("rules.toml", "[[rules]]\naction = \"*\"\nallow = true\nreason = \"ok\"\n");
  const std::string key = dir.Write("node.key", kKey);

  CloudStageOptions options;
  options.node = {"edge-1", "02:00:00:00:00:01"};
  options.cache_size = 0;
  CloudStageOptions cached_options = options;
  cached_options.cache_size = 1000;

  {
    testing::AuthzProcess authz({"--rules", rules, "--node-key", key});
    if (!authz.ok()) return fmt::print("{}\n", authz.error()), 1;
    HttpEndpoint e;
    e.url = authz.Url();
    e.node_id = "edge-1";
    CloudStage stage(options, std::make_shared<HttpAuthorizer>(e, kKey));
    Measure("http, reference authorizer, uncached", stage, calls);
    CloudStage cached(cached_options, std::make_shared<HttpAuthorizer>(e, kKey));
    MeasureCached("http, cached allow", cached, calls * 10);
  }

  std::string error;
  if (testing::MakeCerts(dir.File("certs"), error)) {
    const std::string c = dir.File("certs/");
    testing::AuthzProcess authz(
        {"--rules", rules, "--node-key", key, "--tls-cert", c + "server.pem", "--tls-key",
         c + "server.key", "--client-ca", c + "ca.pem"},
        true);
    if (!authz.ok()) return fmt::print("{}\n", authz.error()), 1;
    HttpEndpoint e;
    e.url = authz.Url();
    e.node_id = "edge-1";
    e.ca_file = c + "ca.pem";
    e.cert_file = c + "client.pem";
    e.key_file = c + "client.key";
    {
      CloudStage stage(options, std::make_shared<HttpAuthorizer>(e, kKey));
      Measure("https+mTLS, reference authorizer, uncached", stage, calls);
    }
    std::vector<double> us;
    for (int i = 0; i < std::min(calls, 50); ++i) {
      CloudStage stage(options, std::make_shared<HttpAuthorizer>(e, kKey));
      policy::CallState state;
      const auto start = Steady::now();
      stage.Check(Request(i), state);
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
    }
    Report("https+mTLS, new client each call (handshake)", us);
  } else {
    fmt::print("https skipped: {}\n", error);
  }

  {
    testing::LoopbackServer raw([](const testing::HttpRequest&) {
      return testing::LoopbackServer::Response(200, R"({"result": {"allow": true}})");
    });
    HttpEndpoint e;
    e.url = raw.Url();
    e.node_id = "edge-1";
    CloudStage stage(options, std::make_shared<HttpAuthorizer>(e, kKey));
    Measure("http, raw C++ server, connection per call", stage, calls);
  }
  return 0;
}

}  // namespace
}  // namespace crigate::cloud

int main(int argc, char** argv) { return crigate::cloud::Main(argc, argv); }
