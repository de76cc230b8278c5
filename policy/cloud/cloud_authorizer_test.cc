#include "policy/cloud/cloud_authorizer.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using namespace std::chrono_literals;
using testing::AuthzProcess;
using ::testing::HasSubstr;
using testing::LoopbackServer;
using ::testing::StartsWith;
using testing::TempDir;
using Outcome = AuthzAnswer::Outcome;

HttpReply Reply(long status, std::string body) {
  HttpReply r;
  r.answered = true;
  r.status = status;
  r.body = std::move(body);
  return r;
}

AuthzInput Input(const std::string& action = "CreateContainer",
                 const std::string& image = "docker.io/library/busybox:latest",
                 std::map<std::string, std::string> labels = {}) {
  policy::GateRequest r;
  r.action = action;
  r.image = image;
  r.caller = {1, 0, 0, true};
  policy::PodInfo pod;
  pod.namespace_ = "default";
  pod.labels = std::move(labels);
  r.pod = pod;
  return BuildAuthzInput(r, {}, {"edge-1", "02:00:00:00:00:01"});
}

HttpEndpoint Endpoint(const std::string& url, std::chrono::milliseconds timeout = 2000ms) {
  HttpEndpoint e;
  e.url = url;
  e.timeout = timeout;
  e.connect_timeout = timeout;
  e.node_id = "edge-1";
  return e;
}

// ---- the mapping of one reply, no server -----------------------------------

TEST(InterpretReply, OnlyBooleanTrueAllows) {
  AuthzAnswer a = InterpretReply(
      Reply(200, R"({"result": {"allow": true, "reason": "ok"}, "decision_id": "d1"})"));
  EXPECT_EQ(a.outcome, Outcome::kAllowed);
  EXPECT_EQ(a.reason, "ok");
  EXPECT_EQ(a.decision_id, "d1");

  for (const char* body :
       {R"({"result": {"allow": "true"}})", R"({"result": {"allow": 1}})",
        R"({"result": {"allow": null}})", R"({"result": {}})", R"({"result": true})",
        R"({"decision_id": "x"})", R"([true])", R"(true)", "<html>", ""}) {
    AuthzAnswer d = InterpretReply(Reply(200, body));
    EXPECT_EQ(d.outcome, Outcome::kDenied) << body;
    EXPECT_TRUE(d.malformed) << body;
    EXPECT_THAT(d.reason, StartsWith("malformed answer")) << body;
  }
  EXPECT_THAT(InterpretReply(Reply(200, R"({"result": {"allow": "true"}})")).reason,
              HasSubstr("result.allow is a string (\"true\"), not a boolean"));
}

TEST(InterpretReply, FalseDeniesWithTheCloudsReason) {
  AuthzAnswer d = InterpretReply(Reply(
      200, R"({"result": {"allow": false, "reason": "not on\nthis node"}, "decision_id": "d2"})"));
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_FALSE(d.malformed);
  EXPECT_EQ(d.reason, "not on this node");  // one line in the audit log
  EXPECT_EQ(d.decision_id, "d2");
  EXPECT_EQ(InterpretReply(Reply(200, R"({"result": {"allow": false}})")).reason,
            "no reason given");
}

TEST(InterpretReply, NoAnswerOrNon200IsAnError) {
  HttpReply refused;
  refused.error = "Connection refused";
  EXPECT_EQ(InterpretReply(refused).outcome, Outcome::kError);
  AuthzAnswer e = InterpretReply(Reply(500, R"({"result": {"allow": true}})"));
  EXPECT_EQ(e.outcome, Outcome::kError);
  EXPECT_THAT(e.reason, HasSubstr("HTTP status 500"));
  EXPECT_EQ(InterpretReply(Reply(204, "")).outcome, Outcome::kError);
}

// ---- against raw loopback servers --------------------------------------------

TEST(HttpAuthorizer, ConnectionRefusedIsAnError) {
  const uint16_t port = LoopbackServer::UnusedPort();
  HttpAuthorizer authz(Endpoint(fmt::format("http://127.0.0.1:{}/v1/data/crigate/allow", port)),
                       testing::kNodeKey);
  AuthzAnswer a = authz.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kError);
  EXPECT_THAT(a.reason, HasSubstr(fmt::format("POST http://127.0.0.1:{}", port)));
}

TEST(HttpAuthorizer, SlowerThanTheTimeoutIsAnErrorWithinTheTimeout) {
  LoopbackServer server([](const testing::HttpRequest&) {
    return LoopbackServer::Response(200, R"({"result": {"allow": true}})");
  });
  server.set_delay(3000ms);
  HttpAuthorizer authz(Endpoint(server.Url(), 300ms), testing::kNodeKey);
  const auto start = std::chrono::steady_clock::now();
  AuthzAnswer a = authz.Check(Input());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a.outcome, Outcome::kError);
  EXPECT_THAT(a.reason, HasSubstr("no answer within 300 ms"));
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 300ms + 1500ms);
}

TEST(HttpAuthorizer, GarbageIsDenied) {
  LoopbackServer server([](const testing::HttpRequest&) {
    return LoopbackServer::Response(200, "\x01\x02 not json at all", "text/plain");
  });
  HttpAuthorizer authz(Endpoint(server.Url()), testing::kNodeKey);
  AuthzAnswer a = authz.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kDenied);
  EXPECT_THAT(a.reason, HasSubstr("malformed answer: not JSON"));
}

TEST(HttpAuthorizer, ClosedWithoutAnswerIsAnError) {
  LoopbackServer server([](const testing::HttpRequest&) { return std::string(); });
  HttpAuthorizer authz(Endpoint(server.Url()), testing::kNodeKey);
  EXPECT_EQ(authz.Check(Input()).outcome, Outcome::kError);
}

TEST(HttpAuthorizer, Non200IsAnError) {
  LoopbackServer server([](const testing::HttpRequest&) {
    return LoopbackServer::Response(503, R"({"result": {"allow": true}})");
  });
  HttpAuthorizer authz(Endpoint(server.Url()), testing::kNodeKey);
  AuthzAnswer a = authz.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kError);
  EXPECT_THAT(a.reason, HasSubstr("HTTP status 503"));
}

TEST(HttpAuthorizer, StringTrueIsDenied) {
  LoopbackServer server([](const testing::HttpRequest&) {
    return LoopbackServer::Response(200, R"({"result": {"allow": "true"}, "decision_id": "x"})");
  });
  HttpAuthorizer authz(Endpoint(server.Url()), testing::kNodeKey);
  AuthzAnswer a = authz.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kDenied);
  EXPECT_TRUE(a.malformed);
}

TEST(HttpAuthorizer, SendsTheSignedWireFormat) {
  LoopbackServer server([](const testing::HttpRequest&) {
    return LoopbackServer::Response(200, R"({"result": {"allow": true}, "decision_id": "d"})");
  });
  HttpAuthorizer authz(Endpoint(server.Url()), testing::kNodeKey);
  ASSERT_EQ(authz.Check(Input()).outcome, Outcome::kAllowed);
  ASSERT_EQ(server.requests().size(), 1u);
  const testing::HttpRequest r = server.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/data/crigate/allow");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("x-crigate-node"), "edge-1");
  const std::string ts = r.headers.at("x-crigate-timestamp");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_NEAR(std::stoll(ts), now, 5);
  EXPECT_EQ(r.headers.at("x-crigate-signature"), NodeSigner(testing::kNodeKey).Sign(ts, r.body));
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["input"]["action"], "CreateContainer");
  EXPECT_EQ(body["input"]["node"]["id"], "edge-1");
  EXPECT_FALSE(r.headers.count("expect"));
}

TEST(NodeSigner, IsHmacSha256OverTimestampNewlineBody) {
  // Independent of NodeSigner: HMAC-SHA256("key...", "123\n{}") by OpenSSL.
  unsigned char mac[32];
  unsigned int len = 0;
  const std::string msg = "123\n{}";
  HMAC(EVP_sha256(), testing::kNodeKey.data(), static_cast<int>(testing::kNodeKey.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", mac[i]);
  EXPECT_EQ(NodeSigner(testing::kNodeKey).Sign("123", "{}"), "hmac-sha256=" + hex);
}

// ---- against the reference authorizer ------------------------------------------

class ReferenceAuthorizer : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = dir_.Write("rules.toml", R"(
default = { allow = false, reason = "no rule matched" }
[[rules]]
labels = { crigate-test = "deny-*" }
allow = false
reason = "labelled for a deny"
[[rules]]
action = "CreateContainer"
image = "docker.io/library/busybox:*"
namespace = "default"
allow = true
reason = "busybox may run in default"
[[rules]]
action = "SlowAction"
delay_ms = 2000
allow = true
[[rules]]
action = "GarbageAction"
garbage = true
[[rules]]
action = "BrokenAction"
status = 500
[[rules]]
action = "StringAction"
answer = { result = { allow = "true" } }
)");
    key_ = dir_.Write("node.key", testing::kNodeKey + "\n");
  }

  TempDir dir_;
  std::string rules_;
  std::string key_;
};

TEST_F(ReferenceAuthorizer, AllowsDeniesAndVerifiesTheSignature) {
  AuthzProcess authz({"--rules", rules_, "--node-key", key_});
  ASSERT_TRUE(authz.ok()) << authz.error();
  HttpAuthorizer good(Endpoint(authz.Url()), testing::kNodeKey);

  AuthzAnswer a = good.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kAllowed) << a.reason << authz.log();
  EXPECT_EQ(a.reason, "busybox may run in default");
  EXPECT_THAT(a.decision_id, StartsWith("authz-"));

  AuthzAnswer d = good.Check(Input("CreateContainer", "docker.io/library/nginx:latest"));
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_EQ(d.reason, "no rule matched");

  AuthzAnswer labelled = good.Check(
      Input("CreateContainer", "docker.io/library/busybox:latest", {{"crigate-test", "deny-me"}}));
  EXPECT_EQ(labelled.outcome, Outcome::kDenied);
  EXPECT_EQ(labelled.reason, "labelled for a deny");

  EXPECT_EQ(good.Check(Input("GarbageAction")).outcome, Outcome::kDenied);
  EXPECT_EQ(good.Check(Input("StringAction")).outcome, Outcome::kDenied);
  EXPECT_EQ(good.Check(Input("BrokenAction")).outcome, Outcome::kError);

  HttpAuthorizer wrong_key(Endpoint(authz.Url()), "another key, long enough to use");
  AuthzAnswer bad = wrong_key.Check(Input());
  EXPECT_EQ(bad.outcome, Outcome::kError);
  EXPECT_THAT(bad.reason, HasSubstr("HTTP status 401"));
  EXPECT_THAT(bad.reason, HasSubstr("bad X-Crigate-Signature"));
  EXPECT_EQ(authz.Stats().rejected, 1);
}

TEST_F(ReferenceAuthorizer, SlowRuleTimesOut) {
  AuthzProcess authz({"--rules", rules_});
  ASSERT_TRUE(authz.ok()) << authz.error();
  HttpAuthorizer slow(Endpoint(authz.Url(), 300ms), testing::kNodeKey);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(slow.Check(Input("SlowAction")).outcome, Outcome::kError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms + 1500ms);
  // The connection was dropped on timeout; the next call still works.
  EXPECT_EQ(slow.Check(Input()).outcome, Outcome::kAllowed);
}

TEST_F(ReferenceAuthorizer, ConcurrentCallsShareTheClient) {
  AuthzProcess authz({"--rules", rules_, "--node-key", key_});
  ASSERT_TRUE(authz.ok()) << authz.error();
  HttpAuthorizer shared(Endpoint(authz.Url()), testing::kNodeKey);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (shared.Check(Input()).outcome == Outcome::kAllowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 160);
  EXPECT_EQ(authz.Stats().decisions, 160);
}

class ReferenceAuthorizerTls : public ReferenceAuthorizer {
 protected:
  void SetUp() override {
    ReferenceAuthorizer::SetUp();
    std::string error;
    if (!testing::MakeCerts(certs_.path(), error))
      GTEST_SKIP() << "no test certificates: " << error;
  }
  std::string Cert(const std::string& name) const { return certs_.File(name); }
  HttpEndpoint TlsEndpoint(const std::string& url) const {
    HttpEndpoint e = Endpoint(url);
    e.ca_file = Cert("ca.pem");
    e.cert_file = Cert("client.pem");
    e.key_file = Cert("client.key");
    return e;
  }
  std::vector<std::string> ServerArgs() const {
    return {"--rules",          rules_,      "--node-key",       key_,          "--tls-cert",
            Cert("server.pem"), "--tls-key", Cert("server.key"), "--client-ca", Cert("ca.pem")};
  }

  TempDir certs_;
};

TEST_F(ReferenceAuthorizerTls, MutualTls) {
  AuthzProcess authz(ServerArgs(), /*https=*/true);
  ASSERT_TRUE(authz.ok()) << authz.error();

  HttpAuthorizer good(TlsEndpoint(authz.Url()), testing::kNodeKey);
  AuthzAnswer a = good.Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kAllowed) << a.reason << authz.log();
  EXPECT_EQ(good.Check(Input()).outcome, Outcome::kAllowed);  // a reused connection
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (good.Check(Input()).outcome == Outcome::kAllowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 20);  // more connections, one shared TLS session cache

  // By IP address too: the server certificate names 127.0.0.1.
  HttpAuthorizer by_ip(
      TlsEndpoint(fmt::format("https://127.0.0.1:{}/v1/data/crigate/allow", authz.port())),
      testing::kNodeKey);
  EXPECT_EQ(by_ip.Check(Input()).outcome, Outcome::kAllowed);

  HttpEndpoint no_client_cert = TlsEndpoint(authz.Url());
  no_client_cert.cert_file.clear();
  no_client_cert.key_file.clear();
  EXPECT_EQ(HttpAuthorizer(no_client_cert, testing::kNodeKey).Check(Input()).outcome,
            Outcome::kError);

  HttpEndpoint wrong_ca = TlsEndpoint(authz.Url());
  wrong_ca.ca_file = Cert("other-ca.pem");
  AuthzAnswer e = HttpAuthorizer(wrong_ca, testing::kNodeKey).Check(Input());
  EXPECT_EQ(e.outcome, Outcome::kError);
  EXPECT_THAT(e.reason, HasSubstr("SSL certificate problem"));

  EXPECT_EQ(authz.Stats(Cert("ca.pem"), Cert("client.pem"), Cert("client.key")).decisions, 23);
}

TEST_F(ReferenceAuthorizerTls, HostNameIsVerified) {
  // 127.0.0.2 is loopback too, but the server certificate does not name it.
  std::vector<std::string> args = ServerArgs();
  args.insert(args.end(), {"--listen", "127.0.0.2"});
  AuthzProcess authz(args, /*https=*/true);
  ASSERT_TRUE(authz.ok()) << authz.error();
  HttpEndpoint e =
      TlsEndpoint(fmt::format("https://127.0.0.2:{}/v1/data/crigate/allow", authz.port()));
  AuthzAnswer a = HttpAuthorizer(e, testing::kNodeKey).Check(Input());
  EXPECT_EQ(a.outcome, Outcome::kError);
  EXPECT_THAT(a.reason, HasSubstr("no alternative certificate subject name matches"));
  EXPECT_EQ(authz.log().find("\"event\": \"decision\""), std::string::npos);
}

}  // namespace
}  // namespace crigate::cloud
