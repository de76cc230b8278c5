#include "policy/cloud/cloud_stage.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "policy/base/fake_clock.h"
#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using namespace std::chrono_literals;
using policy::StageResult;
using policy::Verdict;
using ::testing::HasSubstr;
using Code = base::Code;

class FakeAuthorizer final : public Authorizer {
 public:
  explicit FakeAuthorizer(AuthzAnswer answer) : answer_(std::move(answer)) {}
  AuthzAnswer Check(const AuthzInput& input) override {
    calls_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    inputs_.push_back(input);
    return answer_;
  }
  void set_answer(AuthzAnswer a) {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = std::move(a);
  }
  int calls() const { return calls_.load(); }
  std::vector<AuthzInput> inputs() {
    std::lock_guard<std::mutex> lock(mu_);
    return inputs_;
  }

 private:
  std::mutex mu_;
  AuthzAnswer answer_;
  std::vector<AuthzInput> inputs_;
  std::atomic<int> calls_{0};
};

policy::GateRequest Request(uid_t uid = 0) {
  policy::GateRequest r;
  r.action = "CreateContainer";
  r.image = "busybox";
  r.caller = {100, uid, 0, true};
  policy::PodInfo pod;
  pod.name = "web";
  pod.namespace_ = "default";
  r.pod = pod;
  return r;
}

CloudStageOptions StageOptions() {
  CloudStageOptions o;
  o.node = {"edge-1", "02:00:00:00:00:01"};
  return o;
}

TEST(CloudStage, AllowSetsTheDecisionIdAndIsCached) {
  auto authz = std::make_shared<FakeAuthorizer>(AuthzAnswer::Allowed("fine", "d1"));
  base::FakeClock now;
  CloudStage stage(StageOptions(), authz, now);
  EXPECT_STREQ(stage.name(), "cloud");

  policy::CallState state;
  StageResult r = stage.Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kAllow);
  EXPECT_EQ(r.reason, "cloud allowed: fine");
  EXPECT_EQ(state.decision_id, "d1");

  policy::CallState again;
  StageResult cached = stage.Check(Request(), again);
  EXPECT_EQ(cached.verdict, Verdict::kAllow);
  EXPECT_EQ(cached.reason, "cloud allowed (cached decision d1)");
  EXPECT_EQ(again.decision_id, "");  // the pipeline gives this call its own id
  EXPECT_EQ(authz->calls(), 1);

  // A different caller is a different question.
  policy::CallState other;
  EXPECT_EQ(stage.Check(Request(1000), other).verdict, Verdict::kAllow);
  EXPECT_EQ(authz->calls(), 2);

  now.Advance(5000ms);  // the default TTL
  EXPECT_EQ(stage.Check(Request(), state).verdict, Verdict::kAllow);
  EXPECT_EQ(authz->calls(), 3);
  EXPECT_EQ(stage.counts().allowed, 3u);
  EXPECT_EQ(stage.counts().cached, 1u);
}

TEST(CloudStage, DenyIsNeverCached) {
  auto authz = std::make_shared<FakeAuthorizer>(AuthzAnswer::Denied("not here", "d2"));
  CloudStage stage(StageOptions(), authz);
  policy::CallState state;
  StageResult r = stage.Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kDeny);
  EXPECT_EQ(r.code, Code::PERMISSION_DENIED);
  EXPECT_EQ(r.reason, "cloud denied: not here");
  EXPECT_EQ(state.decision_id, "d2");
  EXPECT_EQ(stage.Check(Request(), state).verdict, Verdict::kDeny);
  EXPECT_EQ(authz->calls(), 2);
  EXPECT_EQ(stage.counts().denied, 2u);
}

TEST(CloudStage, MalformedIsADeny) {
  auto authz = std::make_shared<FakeAuthorizer>(
      AuthzAnswer::Malformed("malformed answer: result.allow is a string"));
  CloudStageOptions options = StageOptions();
  options.failure_mode_allow = true;  // does not apply: the cloud answered
  CloudStage stage(options, authz);
  policy::CallState state;
  StageResult r = stage.Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kDeny);
  EXPECT_EQ(r.reason, "cloud denied: malformed answer: result.allow is a string");
}

TEST(CloudStage, ErrorIsUnavailableAndNotCached) {
  auto authz = std::make_shared<FakeAuthorizer>(AuthzAnswer::Error("POST x: refused"));
  CloudStage stage(StageOptions(), authz);
  EXPECT_FALSE(stage.failure_mode_allow());
  policy::CallState state;
  StageResult r = stage.Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_EQ(r.code, Code::UNAVAILABLE);
  EXPECT_EQ(r.reason, "cloud unreachable: POST x: refused");
  authz->set_answer(AuthzAnswer::Allowed("", "d3"));
  EXPECT_EQ(stage.Check(Request(), state).verdict, Verdict::kAllow);
  EXPECT_EQ(authz->calls(), 2);
  EXPECT_EQ(stage.counts().errors, 1u);
}

TEST(CloudStage, FailureModeAllowIsExposed) {
  CloudStageOptions options = StageOptions();
  options.failure_mode_allow = true;
  CloudStage stage(options, std::make_shared<FakeAuthorizer>(AuthzAnswer::Error("x")));
  EXPECT_TRUE(stage.failure_mode_allow());
}

TEST(CloudStage, InputCarriesStateAndNode) {
  auto authz = std::make_shared<FakeAuthorizer>(AuthzAnswer::Allowed("", ""));
  CloudStage stage(StageOptions(), authz);
  policy::CallState state;
  state.image_ref = "docker.io/library/busybox:latest";
  state.image_digest = "sha256:abc";
  state.token_claims_json = R"({"jti":"t1"})";
  stage.Check(Request(), state);
  ASSERT_EQ(authz->inputs().size(), 1u);
  const nlohmann::json in = authz->inputs()[0].input;
  EXPECT_EQ(in["image"]["digest"], "sha256:abc");
  EXPECT_EQ(in["token_claims"]["jti"], "t1");
  EXPECT_EQ(in["node"]["id"], "edge-1");
}

TEST(CloudStage, ConcurrentChecks) {
  auto authz = std::make_shared<FakeAuthorizer>(AuthzAnswer::Allowed("", "d"));
  CloudStage stage(StageOptions(), authz);
  std::vector<std::thread> threads;
  std::atomic<int> allowed{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        policy::CallState state;
        if (stage.Check(Request(static_cast<uid_t>(i % 10 + t)), state).verdict ==
            Verdict::kAllow) {
          allowed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1600);
  EXPECT_LE(authz->calls(), 17 * 8);
}

// ---- through the real transport and the reference authorizer -------------------

class CloudStageWithAuthz : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = dir_.Write("rules.json", R"({
      "default": {"allow": false, "reason": "no rule matched"},
      "rules": [
        {"action": "CreateContainer", "namespace": "default", "uid": [0],
         "allow": true, "reason": "root may create in default"}
      ]})");
    key_ = dir_.Write("node.key", testing::kNodeKey);
  }

  std::shared_ptr<const CloudConfig> Config(const std::string& url, int cache_ttl_ms = 5000) {
    toml::table root = toml::parse(fmt::format(R"(
[cloud]
enabled = true
url = "{}"
node_key_file = "{}"
node_mac = "02:00:00:00:00:01"
timeout_ms = 500
cache_ttl_ms = {}
)",
                                               url, key_, cache_ttl_ms));
    std::vector<std::string> errors;
    auto config = ParseCloudConfig(root, errors);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
    return config;
  }

  testing::TempDir dir_;
  std::string rules_;
  std::string key_;
};

TEST_F(CloudStageWithAuthz, CacheHitDoesNotCallTheServer) {
  testing::AuthzProcess authz({"--rules", rules_, "--node-key", key_});
  ASSERT_TRUE(authz.ok()) << authz.error();
  auto stage = MakeCloudStage(*Config(authz.Url()), "edge-1");
  ASSERT_TRUE(stage.ok()) << stage.error();

  policy::CallState state;
  StageResult r = (*stage)->Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kAllow) << r.reason << authz.log();
  EXPECT_THAT(state.decision_id, ::testing::StartsWith("authz-"));
  for (int i = 0; i < 5; ++i) {
    policy::CallState s;
    EXPECT_EQ((*stage)->Check(Request(), s).verdict, Verdict::kAllow);
  }
  EXPECT_EQ(authz.Stats().decisions, 1);

  // Denies are asked every time.
  for (int i = 0; i < 3; ++i) {
    policy::CallState s;
    StageResult d = (*stage)->Check(Request(1000), s);
    EXPECT_EQ(d.verdict, Verdict::kDeny);
    EXPECT_EQ(d.reason, "cloud denied: no rule matched");
  }
  EXPECT_EQ(authz.Stats().decisions, 4);
}

TEST_F(CloudStageWithAuthz, TtlExpiryAsksAgain) {
  testing::AuthzProcess authz({"--rules", rules_, "--node-key", key_});
  ASSERT_TRUE(authz.ok()) << authz.error();
  auto stage = MakeCloudStage(*Config(authz.Url(), /*cache_ttl_ms=*/150), "edge-1");
  ASSERT_TRUE(stage.ok()) << stage.error();
  policy::CallState state;
  EXPECT_EQ((*stage)->Check(Request(), state).verdict, Verdict::kAllow);
  EXPECT_EQ((*stage)->Check(Request(), state).verdict, Verdict::kAllow);
  EXPECT_EQ(authz.Stats().decisions, 1);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ((*stage)->Check(Request(), state).verdict, Verdict::kAllow);
  EXPECT_EQ(authz.Stats().decisions, 2);
}

TEST_F(CloudStageWithAuthz, CloudDownIsAnError) {
  const uint16_t port = testing::LoopbackServer::UnusedPort();
  auto stage =
      MakeCloudStage(*Config(fmt::format("http://127.0.0.1:{}/v1/data/crigate/allow", port)), "n");
  ASSERT_TRUE(stage.ok());
  policy::CallState state;
  StageResult r = (*stage)->Check(Request(), state);
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_THAT(r.reason, HasSubstr("cloud unreachable: POST http://127.0.0.1:"));
}

TEST(MakeCloudStage, NeedsAnEnabledConfig) {
  CloudConfig config;
  EXPECT_FALSE(MakeCloudStage(config, "n").ok());
}

}  // namespace
}  // namespace crigate::cloud
