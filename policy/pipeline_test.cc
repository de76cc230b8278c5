#include "policy/pipeline.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "policy/pipeline_builder.h"
#include "policy/testing.h"
#include "policy/token.h"

namespace crigate::policy {
namespace {

using nlohmann::json;
using testing::Digest;
using testing::FakeClock;
using testing::FakeResolver;
using testing::NewKey;
using testing::TempDir;
using Code = base::Code;

// A stage that answers what it is told and counts its calls.
class ScriptedStage final : public Stage {
 public:
  ScriptedStage(const char* name, StageResult result, bool failure_mode_allow = false)
      : name_(name), result_(std::move(result)), failure_mode_allow_(failure_mode_allow) {}
  const char* name() const override { return name_; }
  StageResult Check(const GateRequest&, CallState& state) override {
    ++calls;
    if (throws) throw std::runtime_error("boom");
    if (!digest.empty()) state.image_digest = digest;
    if (!decision_id.empty()) state.decision_id = decision_id;
    if (use) state.pending_uses.push_back(use);
    return result_;
  }
  bool failure_mode_allow() const override { return failure_mode_allow_; }
  bool checks_every_mutating_call() const override {
    return std::string_view(name_) == "privilege";
  }

  std::atomic<int> calls{0};
  bool throws = false;
  std::string digest, decision_id;
  std::shared_ptr<PendingUse> use;  // reserved at each Check when set

 private:
  const char* const name_;
  const StageResult result_;
  const bool failure_mode_allow_;
};

// A token use that records what the pipeline did with it.
class RecordedUse final : public PendingUse {
 public:
  base::Status Commit() override {
    ++commits;
    return commit_result;
  }
  base::Status Release() override {
    ++releases;
    return base::Status::OK();
  }
  std::string Describe() const override { return "the use of token jti 'j'"; }

  int commits = 0, releases = 0;
  base::Status commit_result;
};

std::vector<json> Records(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> records;
  for (std::string line; std::getline(in, line);) records.push_back(json::parse(line));
  return records;
}

GateRequest Request() {
  GateRequest r;
  r.method = "/runtime.v1.RuntimeService/CreateContainer";
  r.action = "CreateContainer";
  r.caller = {321, 1000, 1000, true};
  r.image = "busybox:1.36";
  r.pod = PodInfo{};
  r.pod->namespace_ = "default";
  r.pod->name = "web";
  r.pod->uid = "u-1";
  r.pod_sandbox_id = std::string(64, 'd');
  r.container = ContainerInfo{};
  r.container->name = "app";
  testing::SetDefaultProcPaths(&r.container->security);
  return r;
}

class PipelineTest : public ::testing::Test {
 protected:
  // Builds a pipeline over the given stages (kept as raw pointers for checks).
  std::unique_ptr<StagedPipeline> Make(std::vector<ScriptedStage*> stages,
                                       const std::string& audit_path = {}) {
    std::vector<std::unique_ptr<Stage>> owned;
    for (ScriptedStage* s : stages) owned.emplace_back(s);
    auto audit = AuditLog::Open({audit_path.empty() ? path_ : audit_path, 0, 1, false});
    EXPECT_TRUE(audit.ok()) << audit.error();
    return std::make_unique<StagedPipeline>(std::move(owned), std::move(audit).value(), nullptr);
  }

  TempDir dir_;
  std::string path_ = dir_.path() + "/audit.jsonl";
};

TEST_F(PipelineTest, AllAllowAllowsAndRecordsEveryStage) {
  auto* a = new ScriptedStage("privilege", StageResult::Allow("uid 0 is a super user"));
  auto* b = new ScriptedStage("trust", StageResult::Allow("rule 'x' allows it"));
  b->digest = Digest('a');
  auto pipeline = Make({a, b});
  Decision d = pipeline->Decide(Request());
  EXPECT_TRUE(d.allow);
  EXPECT_TRUE(d.ToStatus().ok());
  ASSERT_EQ(d.stages.size(), 2u);
  EXPECT_EQ(d.stages[1].stage, "trust");
  EXPECT_EQ(d.image_digest, Digest('a'));
  EXPECT_EQ(d.decision_id.rfind("cg-", 0), 0u);

  std::vector<json> records = Records(path_);
  ASSERT_EQ(records.size(), 1u);
  const json& r = records[0];
  EXPECT_EQ(r["type"], "decision");
  EXPECT_EQ(r["phase"], "decide");
  EXPECT_EQ(r["decision"], "allow");
  EXPECT_EQ(r["method"], "/runtime.v1.RuntimeService/CreateContainer");
  EXPECT_EQ(r["action"], "CreateContainer");
  EXPECT_EQ(r["caller"], (json{{"uid", 1000}, {"gid", 1000}, {"pid", 321}}));
  EXPECT_EQ(r["image"], "busybox:1.36");
  EXPECT_EQ(r["digest"], Digest('a'));
  EXPECT_EQ(r["pod"]["namespace"], "default");
  EXPECT_EQ(r["container"], "app");
  EXPECT_EQ(r["stages"].size(), 2u);
  EXPECT_EQ(
      r["stages"][0],
      (json{{"stage", "privilege"}, {"verdict", "allow"}, {"reason", "uid 0 is a super user"}}));
  EXPECT_EQ(r["decision_id"], d.decision_id);
  EXPECT_TRUE(r["latency_us"].is_number_integer());
  EXPECT_TRUE(r["time"].is_string());
}

TEST_F(PipelineTest, FirstDenyStopsTheChain) {
  auto* a = new ScriptedStage("privilege", StageResult::Allow());
  auto* b = new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "no rule"));
  auto* c = new ScriptedStage("token", StageResult::Allow());
  auto pipeline = Make({a, b, c});
  Decision d = pipeline->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::PERMISSION_DENIED);
  EXPECT_EQ(d.reason, "crigate trust: no rule");
  EXPECT_EQ(d.ToStatus().message(), "crigate trust: no rule");
  EXPECT_EQ(c->calls, 0);
  EXPECT_EQ(d.stages.size(), 2u);
  json r = Records(path_).at(0);
  EXPECT_EQ(r["decision"], "deny");
  EXPECT_EQ(r["code"], "PERMISSION_DENIED");
  EXPECT_EQ(r["stages"][1]["verdict"], "deny");
  EXPECT_EQ(r["stages"][1]["code"], "PERMISSION_DENIED");
}

TEST_F(PipelineTest, ErrorFailsClosedUnlessTheStageOffersFailureModeAllow) {
  auto* trust = new ScriptedStage("trust", StageResult::Error(Code::UNAVAILABLE, "backend down"));
  auto pipeline = Make({trust});
  Decision d = pipeline->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::UNAVAILABLE);
  EXPECT_EQ(d.reason, "crigate trust: no answer (backend down); denied, failing closed");

  auto* cloud = new ScriptedStage("cloud", StageResult::Error(Code::DEADLINE_EXCEEDED, "timeout"),
                                  /*failure_mode_allow=*/true);
  auto* after = new ScriptedStage("last", StageResult::Allow());
  auto lenient = Make({cloud, after}, dir_.path() + "/b.jsonl");
  d = lenient->Decide(Request());
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(after->calls, 1);
  EXPECT_EQ(d.stages[0].result.verdict, Verdict::kError);  // still on record
  EXPECT_EQ(Records(dir_.path() + "/b.jsonl").at(0)["stages"][0]["verdict"], "error");
}

TEST_F(PipelineTest, AThrowingStageIsAnErrorNotACrash) {
  auto* s = new ScriptedStage("trust", StageResult::Allow());
  s->throws = true;
  auto pipeline = Make({s});
  Decision d = pipeline->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::INTERNAL);
  EXPECT_NE(d.reason.find("stage failed: boom"), std::string::npos);
  EXPECT_EQ(Records(path_).size(), 1u);
}

TEST_F(PipelineTest, CloudDecisionIdIsKept) {
  auto* cloud = new ScriptedStage("cloud", StageResult::Allow());
  cloud->decision_id = "opa-7";
  EXPECT_EQ(Make({cloud})->Decide(Request()).decision_id, "opa-7");
}

TEST_F(PipelineTest, NoAuditRecordMeansNoAllow) {
  auto* a = new ScriptedStage("privilege", StageResult::Allow());
  auto pipeline = Make({a}, "/dev/full");
  Decision d = pipeline->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::UNAVAILABLE);
  EXPECT_EQ(d.reason,
            "crigate audit: cannot write audit log /dev/full: No space left on device; call "
            "refused: no decision without an audit record");
  // A deny stays the deny it was, with the audit failure noted.
  auto* b = new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "no rule"));
  d = Make({b}, "/dev/full")->Decide(Request());
  EXPECT_EQ(d.code, Code::PERMISSION_DENIED);
  EXPECT_EQ(d.reason.rfind("crigate trust: no rule (and the audit record failed: ", 0), 0u)
      << d.reason;
  EXPECT_NE(pipeline->CountsText().find("audit failures=1"), std::string::npos);
}

TEST_F(PipelineTest, AMutatingCallThatIsNotGatedPassesThePrivilegeStageOnly) {
  auto* privilege = new ScriptedStage("privilege", StageResult::Allow());
  auto* trust = new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "no"));
  auto pipeline = Make({privilege, trust});
  GateRequest r = Request();
  r.action = "StopContainer";
  r.method_class = MethodClass::kMutating;
  Decision d = pipeline->Decide(r);
  EXPECT_TRUE(d.allow) << d.reason;
  ASSERT_EQ(d.stages.size(), 1u);
  EXPECT_EQ(d.stages[0].stage, "privilege");
  EXPECT_EQ(trust->calls, 0);
  EXPECT_EQ(Records(path_).size(), 1u);  // and it is audited
  r.method_class = MethodClass::kGated;
  EXPECT_FALSE(pipeline->Decide(r).allow);
}

TEST_F(PipelineTest, ATokenUseIsCommittedOnlyForAnAllowedAndAuditedCall) {
  auto use = std::make_shared<RecordedUse>();
  auto* token = new ScriptedStage("token", StageResult::Allow());
  token->use = use;
  Decision d = Make({token})->Decide(Request());
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(use->commits, 1);
  EXPECT_EQ(use->releases, 0);
  ASSERT_EQ(d.uses.size(), 1u);  // for the front end, should containerd never run it

  // Denied by a later stage: released, never committed.
  use = std::make_shared<RecordedUse>();
  auto* token2 = new ScriptedStage("token", StageResult::Allow());
  token2->use = use;
  d = Make({token2, new ScriptedStage("cloud", StageResult::Deny(Code::PERMISSION_DENIED, "no"))})
          ->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(use->commits, 0);
  EXPECT_EQ(use->releases, 1);
  EXPECT_TRUE(d.uses.empty());

  // Allowed, but the audit line cannot be written: committed, then given back.
  use = std::make_shared<RecordedUse>();
  auto* token3 = new ScriptedStage("token", StageResult::Allow());
  token3->use = use;
  d = Make({token3}, "/dev/full")->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(use->commits, 1);
  EXPECT_EQ(use->releases, 1);
  EXPECT_TRUE(d.uses.empty());
}

TEST_F(PipelineTest, AUseThatCannotBeRecordedRefusesTheCall) {
  auto use = std::make_shared<RecordedUse>();
  use->commit_result = Fail(Code::UNAVAILABLE, "cannot write token use file /x: disk full");
  auto* token = new ScriptedStage("token", StageResult::Allow());
  token->use = use;
  Decision d = Make({token})->Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::UNAVAILABLE);
  EXPECT_EQ(d.reason,
            "crigate: the use of token jti 'j' could not be recorded (cannot write token use "
            "file /x: disk full); call refused, the token is not used up");
  EXPECT_EQ(Records(path_).back()["decision"], "deny");
}

TEST_F(PipelineTest, RejectIsRecorded) {
  auto pipeline = Make({new ScriptedStage("privilege", StageResult::Allow())});
  GateRequest r;
  r.method = "/runtime.v1.RuntimeService/CreateContainer";
  r.action = "CreateContainer";
  Decision d = pipeline->Reject(r, Code::INVALID_ARGUMENT, "not a valid message");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::INVALID_ARGUMENT);
  json rec = Records(path_).at(0);
  EXPECT_EQ(rec["phase"], "reject");
  EXPECT_EQ(rec["reason"], "not a valid message");
  EXPECT_EQ(rec["caller"], (json{{"known", false}}));
  EXPECT_TRUE(rec["stages"].empty());
}

TEST_F(PipelineTest, Counts) {
  auto* a = new ScriptedStage("privilege", StageResult::Allow());
  auto* b = new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "x"));
  auto pipeline = Make({a, b});
  pipeline->Decide(Request());
  pipeline->Decide(Request());
  std::vector<StageCounts> counts = pipeline->Counts();
  EXPECT_EQ(counts[0].allowed, 2u);
  EXPECT_EQ(counts[1].denied, 2u);
  EXPECT_EQ(pipeline->CountsText(),
            "privilege allow=2 deny=0 error=0; trust allow=0 deny=2 error=0; audit failures=0 use "
            "release failures=0");
}

std::shared_ptr<const StageSet> SetOf(std::vector<ScriptedStage*> stages) {
  auto set = std::make_shared<StageSet>();
  for (ScriptedStage* s : stages) set->stages.emplace_back(s);
  return set;
}

TEST_F(PipelineTest, ASwappedStageSetDecidesTheNextCallsAndCountsCarryOver) {
  base::Latest<StageSet> live(SetOf({new ScriptedStage("trust", StageResult::Allow())}));
  auto audit = AuditLog::Open({path_, 0, 1, false});
  ASSERT_TRUE(audit.ok());
  StagedPipeline pipeline([&] { return live.Get(); }, std::move(audit).value());
  EXPECT_TRUE(pipeline.Decide(Request()).allow);
  live.Set(SetOf({new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "new"))}));
  Decision d = pipeline.Decide(Request());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "crigate trust: new");
  std::vector<StageCounts> counts = pipeline.Counts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].allowed, 1u);
  EXPECT_EQ(counts[0].denied, 1u);
}

// A stage that swaps in a new set while a decision runs, as a SIGHUP can.
class SwappingStage final : public Stage {
 public:
  SwappingStage(base::Latest<StageSet>& live, std::shared_ptr<const StageSet> next)
      : live_(live), next_(std::move(next)) {}
  const char* name() const override { return "privilege"; }
  StageResult Check(const GateRequest&, CallState&) override {
    live_.Set(next_);
    return StageResult::Allow();
  }

 private:
  base::Latest<StageSet>& live_;
  const std::shared_ptr<const StageSet> next_;
};

// Allows, and counts its calls where the test can read them after the stage
// (and its set) are gone.
class CountingStage final : public Stage {
 public:
  explicit CountingStage(std::shared_ptr<std::atomic<int>> calls) : calls_(std::move(calls)) {}
  const char* name() const override { return "trust"; }
  StageResult Check(const GateRequest&, CallState&) override {
    ++*calls_;
    return StageResult::Allow();
  }

 private:
  const std::shared_ptr<std::atomic<int>> calls_;
};

TEST_F(PipelineTest, ADecisionKeepsTheStageSetItStartedWith) {
  auto* newer = new ScriptedStage("trust", StageResult::Deny(Code::PERMISSION_DENIED, "newer"));
  std::shared_ptr<const StageSet> next = SetOf({newer});
  base::Latest<StageSet> live(nullptr);
  auto older_calls = std::make_shared<std::atomic<int>>(0);
  auto first = std::make_shared<StageSet>();
  first->stages.push_back(std::make_unique<SwappingStage>(live, next));
  first->stages.push_back(std::make_unique<CountingStage>(older_calls));
  std::weak_ptr<const StageSet> first_alive = first;
  live.Set(std::move(first));  // held by live alone: a swap would free it
  auto audit = AuditLog::Open({path_, 0, 1, false});
  ASSERT_TRUE(audit.ok());
  StagedPipeline pipeline([&] { return live.Get(); }, std::move(audit).value());
  // The swap happens inside the first stage: the rest of this decision still
  // runs the set it started with, which stays alive until the decision ends.
  EXPECT_TRUE(pipeline.Decide(Request()).allow);
  EXPECT_EQ(older_calls->load(), 1);
  EXPECT_EQ(newer->calls.load(), 0);
  EXPECT_TRUE(first_alive.expired()) << "released once the decision that held it ended";
  EXPECT_FALSE(pipeline.Decide(Request()).allow);
  EXPECT_EQ(newer->calls.load(), 1);
}

TEST_F(PipelineTest, ConcurrentDecisionsAreEachAudited) {
  auto pipeline = Make({new ScriptedStage("privilege", StageResult::Allow())});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) EXPECT_TRUE(pipeline->Decide(Request()).allow);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<json> records = Records(path_);
  EXPECT_EQ(records.size(), 400u);
  std::set<std::string> ids;
  for (const json& r : records) ids.insert(r["decision_id"].get<std::string>());
  EXPECT_EQ(ids.size(), 400u);
}

// The whole policy built from config: privilege, trust and token over one audit log.
class BuiltPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = NewKey(JwsAlg::kES256, "ops");
    dir_.Write("ops.pub", *key_->PublicPem());
    dir_.Write("trust.toml",
               "[[rule]]\nname = \"busybox\"\nimage = \"docker.io/library/busybox:*\"\n"
               "digests = [\"" +
                   Digest('a') + "\"]\n");
    resolver_.AddImage({Digest('1'),
                        {"docker.io/library/busybox:1.36"},
                        {"docker.io/library/busybox@" + Digest('a')}});
    resolver_.AddImage({Digest('2'),
                        {"docker.io/library/busybox:latest"},
                        {"docker.io/library/busybox@" + Digest('b')}});
    resolver_.AddSandbox(testing::Sandbox(std::string(64, 'd'), "web", "default", "u-1"));
    config_text_ = "[privilege]\nsuper_uids = [1000]\n[trust]\nstore = \"" + dir_.path() +
                   "/trust.toml\"\n[token]\nkeys = [\"" + dir_.path() + "/ops.pub\"]\n" +
                   "[audit]\npath = \"" + audit_ + "\"\n[node]\nid = \"gw-1\"\n";
  }

  std::unique_ptr<StagedPipeline> Build() {
    std::vector<std::string> errors;
    config_ = ParsePolicyConfig(toml::parse(config_text_), errors);
    EXPECT_TRUE(config_) << (errors.empty() ? "" : errors[0]);
    if (!config_) return nullptr;
    PipelineDeps deps;
    deps.resolver = &resolver_;
    deps.clock = &clock_;
    auto built = BuildPipeline(*config_, deps);
    EXPECT_TRUE(built.ok()) << built.error();
    return built.ok() ? std::move(built).value() : nullptr;
  }

  std::string Token(const std::string& img, const std::string& act = "CreateContainer") {
    TokenClaims c;
    c.sub = "ops";
    c.act = {act};
    c.img = img;
    c.node = "gw-1";
    c.iat = base::ToUnixSeconds(clock_.Now());
    c.exp = *c.iat + 60;
    c.jti = "j" + std::to_string(++jti_);
    return *IssueToken(c, *key_);
  }

  TempDir dir_;
  std::string audit_ = dir_.path() + "/audit.jsonl";
  std::shared_ptr<const JwsKey> key_;
  FakeResolver resolver_;
  FakeClock clock_;
  std::string config_text_;
  std::shared_ptr<const PolicyConfig> config_;
  int jti_ = 0;
};

TEST_F(BuiltPipelineTest, TrustedImageWithTokenIsAllowedAndAudited) {
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  GateRequest r = Request();
  r.pod->annotations[kTokenAnnotation] = Token("busybox:1.36");
  Decision d = pipeline->Decide(r);
  EXPECT_TRUE(d.allow) << d.reason;
  ASSERT_EQ(d.stages.size(), 4u);
  EXPECT_EQ(d.stages[0].stage, "privilege");
  EXPECT_EQ(d.stages[1].stage, "facts");
  EXPECT_EQ(d.stages[2].stage, "trust");
  EXPECT_EQ(d.stages[3].stage, "token");
  EXPECT_EQ(d.image_digest, Digest('a'));
  json rec = Records(audit_).back();
  EXPECT_EQ(rec["token"], (json{{"sub", "ops"}, {"jti", "j1"}}));
  EXPECT_EQ(rec["image_ref"], "docker.io/library/busybox:1.36");
}

TEST_F(BuiltPipelineTest, ForgedTokenAndUnpinnedDigestAreDeniedWithRecords) {
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  GateRequest r = Request();
  std::string token = Token("busybox:1.36");
  token[token.find('.') + 3] ^= 1;  // flip a bit in the claims
  r.pod->annotations[kTokenAnnotation] = token;
  Decision d = pipeline->Decide(r);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::UNAUTHENTICATED);
  EXPECT_EQ(d.stages.back().stage, "token");

  r = Request();
  r.image = "busybox:latest";
  r.pod->annotations[kTokenAnnotation] = Token("busybox:latest");
  d = pipeline->Decide(r);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::PERMISSION_DENIED);
  EXPECT_NE(d.reason.find("not a digest pinned by rule 'busybox'"), std::string::npos);
  EXPECT_EQ(Records(audit_).size(), 2u);

  r = Request();
  r.caller.uid = 1001;
  d = pipeline->Decide(r);
  EXPECT_EQ(d.reason,
            "crigate privilege: uid 1001 (gid 1000, pid 321) may not call "
            "CreateContainer: not a configured super user or group");
}

TEST_F(BuiltPipelineTest, PulledImageIsCheckedAndRecorded) {
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  GateRequest pull;
  pull.action = "PullImage";
  pull.image = "busybox:latest";
  Decision d = pipeline->CheckPulledImage(pull, Digest('2'));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::PERMISSION_DENIED);
  EXPECT_EQ(d.image_digest, Digest('b'));
  json rec = Records(audit_).back();
  EXPECT_EQ(rec["phase"], "after_pull");
  EXPECT_EQ(rec["decision"], "deny");
  pull.image = "busybox:1.36";
  EXPECT_TRUE(pipeline->CheckPulledImage(pull, Digest('1')).allow);
}

TEST_F(BuiltPipelineTest, BuildErrorsNameWhatIsMissing) {
  std::vector<std::string> errors;
  auto config = ParsePolicyConfig(toml::parse(config_text_), errors);
  ASSERT_TRUE(config);
  auto no_resolver = BuildPipeline(*config, {});
  ASSERT_FALSE(no_resolver.ok());
  EXPECT_EQ(no_resolver.error(), "the trust stage needs an image resolver");

  PolicyConfig bad_audit = *config;
  bad_audit.audit.path = "/nonexistent-dir/audit.jsonl";
  PipelineDeps deps;
  deps.resolver = &resolver_;
  auto built = BuildPipeline(bad_audit, deps);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(
      built.error(),
      "audit.path: cannot open audit log /nonexistent-dir/audit.jsonl: No such file or directory");
}

}  // namespace
}  // namespace crigate::policy

namespace crigate::policy {
namespace {

// The cloud stage joins the chain when [cloud] enables it; a refused
// connection is an Error, denied unless cloud.failure_mode_allow.
class CloudInPipelineTest : public BuiltPipelineTest {
 protected:
  std::string Cloud(bool failure_mode_allow) {
    std::string key = dir_.Write("node.key", "0123456789abcdef0123456789abcdef\n");
    chmod(key.c_str(), 0600);
    return fmt::format(
        "[cloud]\nenabled = true\nurl = \"http://127.0.0.1:1/v1/data/crigate/allow\"\n"
        "timeout_ms = 500\nnode_key_file = \"{}\"\nnode_mac = \"02:00:00:00:00:01\"\n"
        "failure_mode_allow = {}\n",
        key, failure_mode_allow ? "true" : "false");
  }

  GateRequest Allowed() {
    GateRequest r = Request();
    r.pod->annotations[kTokenAnnotation] = Token("busybox:1.36");
    return r;
  }
};

#if CRIGATE_HAVE_CLOUD

TEST_F(CloudInPipelineTest, UnreachableCloudDeniesByDefault) {
  config_text_ += Cloud(false);
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  ASSERT_TRUE(config_->cloud);
  Decision d = pipeline->Decide(Allowed());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.code, Code::UNAVAILABLE);
  ASSERT_EQ(d.stages.size(), 5u);
  EXPECT_EQ(d.stages[4].stage, "cloud");
  EXPECT_EQ(d.stages[4].result.verdict, Verdict::kError);
  EXPECT_EQ(d.reason.rfind("crigate cloud: no answer (", 0), 0u) << d.reason;
}

TEST_F(CloudInPipelineTest, FailureModeAllowLetsTheCallThroughOnRecord) {
  config_text_ += Cloud(true);
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  Decision d = pipeline->Decide(Allowed());
  EXPECT_TRUE(d.allow) << d.reason;
  ASSERT_EQ(d.stages.size(), 5u);
  EXPECT_EQ(d.stages[4].result.verdict, Verdict::kError);
  EXPECT_EQ(Records(audit_).back()["stages"][4]["verdict"], "error");
}

TEST_F(CloudInPipelineTest, DisabledCloudAddsNoStageAndBadKeysAreConfigErrors) {
  config_text_ += "[cloud]\nenabled = false\n";
  auto pipeline = Build();
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(pipeline->Decide(Allowed()).stages.size(), 4u);

  std::vector<std::string> errors;
  EXPECT_EQ(ParsePolicyConfig(toml::parse("[cloud]\nenabled = true\ncolour = 1\n"), errors),
            nullptr);
  EXPECT_NE(std::find(errors.begin(), errors.end(), "cloud.colour: unknown key"), errors.end());
}

#else

TEST_F(CloudInPipelineTest, EnabledCloudWithoutTheLibraryIsAConfigError) {
  config_text_ += Cloud(false);
  std::vector<std::string> errors;
  EXPECT_EQ(ParsePolicyConfig(toml::parse(config_text_), errors), nullptr);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.back().find("this build of crigate has no cloud stage"), std::string::npos);
}

#endif

}  // namespace
}  // namespace crigate::policy
