#include "policy/token_stage.h"

#include <gtest/gtest.h>

#include "policy/actions.h"
#include "policy/testing.h"
#include "policy/token.h"

namespace crigate::policy {
namespace {

using testing::Digest;
using testing::FakeClock;
using testing::FakeResolver;
using testing::NewKey;
using testing::TempDir;
using Code = base::Code;

class TokenStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = NewKey(JwsAlg::kEdDSA, "ops");
    key_path_ = dir_.Write("ops.pub", *key_->PublicPem());
    std::vector<std::string> errors;
    auto keys = KeySet::Load({key_path_}, errors);
    ASSERT_TRUE(keys);
    uses_ = MemoryStore(100);
    Make(keys, uses_);
    resolver_.AddSandbox(testing::Sandbox(std::string(64, 'b'), "web", "default", "pod-uid-1"));
  }

  static std::shared_ptr<TokenUseStore> MemoryStore(size_t capacity) {
    auto store = TokenUseStore::Open("", capacity, base::FromUnixSeconds(1'790'000'000));
    EXPECT_TRUE(store.ok()) << store.error();
    return std::move(store).value();
  }

  TokenStageOptions Options() const {
    TokenStageOptions options;
    options.required_for = DefaultTokenRequiredActions();
    options.node_id = "gw-1";
    return options;
  }

  void Make(std::shared_ptr<const KeySet> keys, std::shared_ptr<TokenUseStore> replay) {
    TokenStageOptions options;
    options.required_for = DefaultTokenRequiredActions();
    options.node_id = "gw-1";
    stage_ = std::make_unique<TokenStage>(keys, options, replay, clock_, &resolver_);
  }

  TokenClaims Claims(std::vector<std::string> act, std::string img = {}) {
    TokenClaims c;
    c.sub = "ops";
    c.act = std::move(act);
    c.img = std::move(img);
    c.node = "gw-1";
    c.iat = base::ToUnixSeconds(clock_.Now());
    c.exp = *c.iat + 300;
    c.jti = "jti-" + std::to_string(++jti_);
    return c;
  }

  std::string Token(const TokenClaims& c, const JwsKey* key = nullptr) {
    Result<std::string> token = IssueToken(c, key ? *key : *key_);
    EXPECT_TRUE(token.ok()) << token.error();
    return token.ok() ? *token : "";
  }

  static GateRequest Sandbox(const std::string& token, const std::string& uid = "pod-uid-1") {
    GateRequest r;
    r.action = "RunPodSandbox";
    r.pod = PodInfo{};
    r.pod->name = "web";
    r.pod->namespace_ = "default";
    r.pod->uid = uid;
    if (!token.empty()) r.pod->annotations[kTokenAnnotation] = token;
    return r;
  }

  static GateRequest Create(const std::string& pod_token, const std::string& container = "app",
                            const std::string& image = "busybox:1.36") {
    GateRequest r = Sandbox(pod_token);
    r.action = "CreateContainer";
    r.pod_sandbox_id = "bbbb";  // a prefix of the real sandbox's id, as containerd accepts
    r.image = image;
    r.container = ContainerInfo{};
    r.container->name = container;
    return r;
  }

  StageResult Check(const GateRequest& r) {
    state_ = CallState{};
    return stage_->Check(r, state_);
  }

  static void ExpectDeny(const StageResult& r, const std::string& fragment) {
    EXPECT_EQ(r.verdict, Verdict::kDeny) << r.reason;
    EXPECT_EQ(r.code, Code::UNAUTHENTICATED) << r.reason;
    EXPECT_NE(r.reason.find(fragment), std::string::npos) << r.reason;
  }

  TempDir dir_;
  std::shared_ptr<const JwsKey> key_;
  std::string key_path_;
  FakeClock clock_;
  FakeResolver resolver_;
  std::shared_ptr<TokenUseStore> uses_;
  std::unique_ptr<TokenStage> stage_;
  CallState state_;
  int jti_ = 0;
};

TEST_F(TokenStageTest, RequiredActionWithoutTokenIsDenied) {
  ExpectDeny(Check(Create("")),
             "CreateContainer requires a token (annotation crigate.io/token or authorization: "
             "Bearer) and none was given");
}

TEST_F(TokenStageTest, RemoveImageNeedsNoTokenButAPresentOneIsVerified) {
  GateRequest r;
  r.action = "RemoveImage";
  r.image = "busybox:1.36";
  StageResult result = Check(r);
  EXPECT_EQ(result.verdict, Verdict::kAllow);
  EXPECT_EQ(result.reason, "no token; none required for RemoveImage");

  r.bearer_token = "garbage.garbage.garbage";
  ExpectDeny(Check(r), "token header is not");
  r.bearer_token = Token(Claims({"RemoveImage"}, "busybox:1.36"));
  EXPECT_EQ(Check(r).verdict, Verdict::kAllow);
}

TEST_F(TokenStageTest, PodTokenAllowsAndFillsTheCallState) {
  std::string token = Token(Claims({"RunPodSandbox"}));
  StageResult r = Check(Sandbox(token));
  ASSERT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  EXPECT_EQ(
      r.reason,
      "token jti 'jti-1' of 'ops' verified with key ops (from pod annotation crigate.io/token)");
  EXPECT_EQ(state_.token_subject, "ops");
  EXPECT_EQ(state_.token_id, "jti-1");
  EXPECT_NE(state_.token_claims_json.find("\"act\":[\"RunPodSandbox\"]"), std::string::npos);
}

TEST_F(TokenStageTest, ReplayedJtiIsDeniedPerActionAndTarget) {
  std::string token = Token(Claims({"RunPodSandbox", "CreateContainer"}, "busybox:1.36"));
  EXPECT_EQ(Check(Sandbox(token)).verdict, Verdict::kAllow);
  ExpectDeny(Check(Sandbox(token)), "token jti 'jti-1' was already used for RunPodSandbox on pod");
  // A fresh pod uid (the caller's choice) does not make the token new again.
  ExpectDeny(Check(Sandbox(token, "pod-uid-2")), "already used for RunPodSandbox");
  // The pod token rides along in each CreateContainer's sandbox config: once per container.
  EXPECT_EQ(Check(Create(token, "app")).verdict, Verdict::kAllow);
  EXPECT_EQ(Check(Create(token, "sidecar")).verdict, Verdict::kAllow);
  ExpectDeny(Check(Create(token, "app")), "already used for CreateContainer");
  // After expiry the entry is gone, and so is the token's validity.
  clock_.Advance(std::chrono::seconds(400));
  ExpectDeny(Check(Sandbox(token)), "token expired at");
}

TEST_F(TokenStageTest, AContainerUseIsBoundToTheRealSandboxNotTheCallersSpelling) {
  std::string token = Token(Claims({"CreateContainer"}, "busybox:1.36"));
  ASSERT_EQ(Check(Create(token, "app")).verdict, Verdict::kAllow);
  ASSERT_EQ(state_.pending_uses.size(), 1u);
  ASSERT_TRUE(state_.pending_uses[0]->Commit().ok());
  // Another prefix of the same sandbox, another uid claimed: the same container.
  GateRequest again = Create(token, "app");
  again.pod_sandbox_id = std::string(64, 'b');
  again.pod->uid = "a-uid-the-caller-made-up";
  ExpectDeny(Check(again),
             "already used for CreateContainer on container:" + std::string(64, 'b') + "/app/0");
  // A new attempt of the same container is a new container to containerd.
  GateRequest next = Create(token, "app");
  next.container->attempt = 1;
  EXPECT_EQ(Check(next).verdict, Verdict::kAllow);
}

TEST_F(TokenStageTest, AContainerTokenNeedsTheSandboxToExist) {
  GateRequest r = Create(Token(Claims({"CreateContainer"}, "busybox:1.36")));
  r.pod_sandbox_id = "ffff";
  ExpectDeny(Check(r),
             "cannot bind the token's use to a pod sandbox: pod sandbox ffff does not exist");
}

TEST_F(TokenStageTest, AUseIsOnlyReservedUntilThePipelineCommitsOrReleasesIt) {
  std::string token = Token(Claims({"RunPodSandbox"}));
  ASSERT_EQ(Check(Sandbox(token)).verdict, Verdict::kAllow);
  ASSERT_EQ(state_.pending_uses.size(), 1u);
  std::shared_ptr<PendingUse> use = state_.pending_uses[0];
  // While reserved, a second call with the token is a replay.
  ExpectDeny(Check(Sandbox(token)), "already used for RunPodSandbox");
  // Released (the call was refused later): the token is not used up.
  ASSERT_TRUE(use->Release().ok());
  ASSERT_EQ(Check(Sandbox(token)).verdict, Verdict::kAllow);
  ASSERT_TRUE(state_.pending_uses[0]->Commit().ok());
  ExpectDeny(Check(Sandbox(token)), "already used for RunPodSandbox");
}

TEST_F(TokenStageTest, FirstFoundTokenDecides) {
  std::string good = Token(Claims({"CreateContainer"}, "busybox:1.36"));
  GateRequest r = Create("not-a-token");
  r.container->annotations[kTokenAnnotation] = good;  // the container's wins over the pod's
  StageResult result = Check(r);
  EXPECT_EQ(result.verdict, Verdict::kAllow) << result.reason;
  EXPECT_NE(result.reason.find("from container annotation"), std::string::npos);

  r = Create("");
  r.container->annotations[kTokenAnnotation] = Token(Claims({"CreateContainer"}, "busybox:1.36"));
  r.bearer_token = "bad";  // metadata is looked at first and is not passed over
  ExpectDeny(Check(r), "(from authorization metadata)");
}

TEST_F(TokenStageTest, ActionImageAndNodeAreBound) {
  ExpectDeny(Check(Create(Token(Claims({"PullImage"}, "busybox:1.36")))),
             "token does not allow CreateContainer (act: 'PullImage')");
  ExpectDeny(Check(Create(Token(Claims({"CreateContainer"}, "nginx:1.25")))),
             "token is for image 'nginx:1.25', not docker.io/library/busybox:1.36");
  ExpectDeny(Check(Create(Token(Claims({"CreateContainer"})))), "token has no img claim");
  TokenClaims other_node = Claims({"CreateContainer"}, "busybox:1.36");
  other_node.node = "gw-2";
  ExpectDeny(Check(Create(Token(other_node))), "token is for node 'gw-2', and this is node 'gw-1'");
}

TEST_F(TokenStageTest, ImageClaimMayNameTheResolvedDigest) {
  GateRequest r = Create(Token(Claims({"CreateContainer"}, Digest('a'))));
  CallState state;
  state.image_ref = "docker.io/library/busybox:1.36";
  state.image_digest = Digest('a');  // as the trust stage resolved it
  EXPECT_EQ(stage_->Check(r, state).verdict, Verdict::kAllow);

  r = Create(Token(Claims({"CreateContainer"}, Digest('b'))));
  state.token_id.clear();
  ExpectDeny(stage_->Check(r, state), "token is for image");
}

TEST_F(TokenStageTest, WrongKeyExpiredAndGarbageTokensAreDenied) {
  auto stranger = NewKey(JwsAlg::kEdDSA, "ops");
  ExpectDeny(Check(Sandbox(Token(Claims({"RunPodSandbox"}), stranger.get()))),
             "token signature does not verify with key ops");
  TokenClaims expired = Claims({"RunPodSandbox"});
  expired.iat = *expired.iat - 1000;
  expired.exp = *expired.iat + 300;
  ExpectDeny(Check(Sandbox(Token(expired))), "token expired at");
  ExpectDeny(Check(Sandbox(std::string(1 << 20, 'A'))), "more than the 8192 allowed");
}

TEST_F(TokenStageTest, StartContainerFindsTheTokenTheContainerWasCreatedWith) {
  auto grants = TokenGrants::Open("", std::chrono::hours(1));
  ASSERT_TRUE(grants.ok());
  stage_ = std::make_unique<TokenStage>(stage_->keys(), Options(), uses_, clock_, &resolver_,
                                        grants->get());
  const std::string c1(64, '1'), c2(64, '2');
  std::string token = Token(Claims({"CreateContainer", "StartContainer"}, "busybox:1.36"));
  resolver_.AddContainer(
      testing::Container(c1, "docker.io/library/busybox:1.36", Digest('1'), "s1", "default"));
  // An annotation on the container (a token that reached containerd) is not looked at.
  ExistingContainer annotated =
      testing::Container(c2, "docker.io/library/busybox:1.36", Digest('1'), "s1", "default");
  annotated.pod_annotations[kTokenAnnotation] = token;
  resolver_.AddContainer(annotated);
  GateRequest start;
  start.action = "StartContainer";
  start.container_id = c2.substr(0, 12);
  ExpectDeny(Check(start), "StartContainer requires a token");

  ASSERT_TRUE((*grants)->Remember(c1, token).ok());
  start.container_id = c1.substr(0, 12);  // a prefix, as containerd accepts
  StageResult r = Check(start);
  EXPECT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  EXPECT_NE(r.reason.find("the token container 111111111111 was created with"), std::string::npos)
      << r.reason;
  ASSERT_TRUE(state_.pending_uses.at(0)->Commit().ok());
  // The use is bound to the full id, whatever prefix names it.
  start.container_id = c1;
  ExpectDeny(Check(start), "already used for StartContainer on container-id:" + c1);

  // A kept token for another image does not start this container.
  ASSERT_TRUE((*grants)->Remember(c2, Token(Claims({"StartContainer"}, "nginx:1.25"))).ok());
  start.container_id = c2;
  ExpectDeny(Check(start), "token is for image 'nginx:1.25'");

  start.container_id = "c-none";
  ExpectDeny(Check(start), "none was given (container c-none does not exist)");
  resolver_.FailWith(Fail(Code::UNAVAILABLE, "backend down"));
  start.container_id = c1;
  ExpectDeny(Check(start), "backend down");
}

TEST_F(TokenStageTest, FullReplayCacheFailsClosed) {
  Make(stage_->keys(), MemoryStore(1));
  EXPECT_EQ(Check(Sandbox(Token(Claims({"RunPodSandbox"})), "p1")).verdict, Verdict::kAllow);
  ExpectDeny(Check(Sandbox(Token(Claims({"RunPodSandbox"})), "p2")),
             "token jti 'jti-2' refused: the token-use store is full (1 unexpired uses)");
}

}  // namespace
}  // namespace crigate::policy
