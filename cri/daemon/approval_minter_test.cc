#include "cri/daemon/approval_minter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "policy/testing.h"

namespace crigate::cri {
namespace {

using policy::testing::TempDir;

const std::string kContainerId(64, 'c');

class FakeSandboxFacts final : public SandboxFacts {
 public:
  policy::Result<CriRuntimeConfig> RuntimeConfig() override {
    if (!failure.ok()) return failure;
    return CriRuntimeConfig{"registry.k8s.io/pause:3.6", "/var/lib/containerd/cri",
                            "/run/containerd/cri"};
  }
  policy::Result<std::vector<std::string>> ImageCommand(const std::string& image) override {
    asked_image = image;
    if (!have_image) return base::Status(base::Code::NOT_FOUND, "no such image");
    return std::vector<std::string>{"/pause"};
  }
  base::Status PullImage(const std::string& image) override {
    pulled.push_back(image);
    if (!pull_failure.ok()) return pull_failure;
    have_image = true;
    return base::Status::OK();
  }
  base::Status failure;
  base::Status pull_failure;
  bool have_image = true;
  std::string asked_image;
  std::vector<std::string> pulled;
};

policy::GateRequest StartContainer() {
  policy::GateRequest r;
  r.action = "StartContainer";
  r.container_id = kContainerId.substr(0, 12);  // a prefix, as crictl sends
  return r;
}

policy::Decision Allowed(const std::string& digest = "sha256:" + std::string(64, 'd')) {
  policy::Decision d;
  d.allow = true;
  d.container_id = kContainerId;
  d.spec_digest = digest;
  return d;
}

policy::GateRequest RunPodSandbox() {
  policy::GateRequest r;
  r.action = "RunPodSandbox";
  policy::PodInfo pod;
  pod.namespace_ = "default";
  pod.name = "web";
  pod.uid = "uid-1";
  pod.host.host_network = true;
  r.pod = pod;
  return r;
}

class ApprovalMinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_path_ = dir_.path() + "/approval.key";
    ASSERT_TRUE(shim::CreateApprovalKey(key_path_).ok());
    ASSERT_TRUE(shim::LoadApprovalKey(key_path_, &key_, geteuid()).ok());
    ApprovalConfig config;
    config.enabled = true;
    config.key_file = key_path_;
    config.dir = dir_.path() + "/approvals";
    std::string error;
    auto issuer = ApprovalIssuer::Create(config);
    ASSERT_TRUE(issuer.ok()) << issuer.error();
    issuer_ = std::move(issuer).value();
    minter_ = std::make_unique<ApprovalMinter>(issuer_.get(), &facts_);
  }

  base::Status Mint(const policy::GateRequest& request, const policy::Decision& decision) {
    bool rewritten = true;
    std::string out;
    base::Status s = minter_->Rewrite(request, decision, std::string_view(), &out, &rewritten);
    EXPECT_FALSE(rewritten) << "the request itself is forwarded unchanged";
    return s;
  }
  base::Status Take(const std::string& name, shim::ApprovalRecord* record,
                    const shim::ApprovalKey* key = nullptr) {
    return shim::TakeApproval(issuer_->dir(), name, key ? *key : key_, time(nullptr), record);
  }

  TempDir dir_;
  std::string key_path_;
  shim::ApprovalKey key_;
  FakeSandboxFacts facts_;
  std::unique_ptr<ApprovalIssuer> issuer_;
  std::unique_ptr<ApprovalMinter> minter_;
};

TEST_F(ApprovalMinterTest, AllowedStartLeavesAnApprovalForTheJudgedSpec) {
  ASSERT_TRUE(Mint(StartContainer(), Allowed()).ok());
  shim::ApprovalRecord record;
  const base::Status s = Take("c-" + kContainerId, &record);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(record.kind, shim::ApprovalKind::kContainer);
  EXPECT_EQ(record.container_id, kContainerId);  // the full id, not the request's prefix
  EXPECT_EQ(record.spec_digest, "sha256:" + std::string(64, 'd'));
  const int64_t now = time(nullptr);
  EXPECT_GT(record.expires_unix, now);
  EXPECT_LE(record.expires_unix, now + 120);
}

TEST_F(ApprovalMinterTest, AStartWithoutAJudgedSpecIsRefused) {
  const base::Status s = Mint(StartContainer(), Allowed(""));
  EXPECT_EQ(s.code(), base::Code::FAILED_PRECONDITION);
  EXPECT_NE(s.message().find("no runtime spec"), std::string::npos) << s.message();
  shim::ApprovalRecord record;
  EXPECT_TRUE(shim::IsRefusal(Take("c-" + kContainerId, &record)));
}

TEST_F(ApprovalMinterTest, DoneRemovesWhatTheShimDidNotTake) {
  ASSERT_TRUE(Mint(StartContainer(), Allowed()).ok());
  minter_->Done(StartContainer(), Allowed());
  shim::ApprovalRecord record;
  EXPECT_TRUE(shim::IsRefusal(Take("c-" + kContainerId, &record)));
}

TEST_F(ApprovalMinterTest, AllowedPodGetsAnApprovalOfItsShape) {
  ASSERT_TRUE(Mint(RunPodSandbox(), policy::Decision{}).ok());
  EXPECT_EQ(facts_.asked_image, "registry.k8s.io/pause:3.6");
  shim::ApprovalRecord record;
  ASSERT_TRUE(Take(shim::SandboxApprovalName("default", "web", "uid-1"), &record).ok());
  EXPECT_EQ(record.kind, shim::ApprovalKind::kSandbox);
  EXPECT_EQ(record.sandbox.pod_name, "web");
  EXPECT_EQ(record.sandbox.args, std::vector<std::string>{"/pause"});
  EXPECT_TRUE(record.sandbox.host_network);
  EXPECT_FALSE(record.sandbox.host_pid);
  EXPECT_FALSE(record.sandbox.privileged);
  EXPECT_EQ(record.sandbox.containerd_dirs,
            (std::vector<std::string>{"/var/lib/containerd/cri", "/run/containerd/cri"}));
}

TEST_F(ApprovalMinterTest, OnAFreshNodeTheSandboxImageIsPulledFirst) {
  facts_.have_image = false;
  ASSERT_TRUE(Mint(RunPodSandbox(), policy::Decision{}).ok());
  EXPECT_EQ(facts_.pulled, std::vector<std::string>{"registry.k8s.io/pause:3.6"});
  shim::ApprovalRecord record;
  ASSERT_TRUE(Take(shim::SandboxApprovalName("default", "web", "uid-1"), &record).ok());
  EXPECT_EQ(record.sandbox.args, std::vector<std::string>{"/pause"});

  facts_.have_image = false;
  facts_.pull_failure = base::Status(base::Code::UNAVAILABLE, "registry unreachable");
  const base::Status s = Mint(RunPodSandbox(), policy::Decision{});
  EXPECT_EQ(s.code(), base::Code::UNAVAILABLE);
  EXPECT_NE(s.message().find("registry unreachable"), std::string::npos) << s.message();
}

TEST_F(ApprovalMinterTest, APodIsRefusedWhenContainerdCannotSayWhatItWillRun) {
  facts_.failure = base::Status(base::Code::UNAVAILABLE, "connection refused");
  const base::Status s = Mint(RunPodSandbox(), policy::Decision{});
  EXPECT_EQ(s.code(), base::Code::UNAVAILABLE);
  EXPECT_NE(s.message().find("connection refused"), std::string::npos);
}

TEST_F(ApprovalMinterTest, OtherActionsGetNoApproval) {
  policy::GateRequest create;
  create.action = "CreateContainer";
  ASSERT_TRUE(Mint(create, Allowed()).ok());
  EXPECT_EQ(issuer_->Clear(), 0);
}

TEST_F(ApprovalMinterTest, EachApprovalIsSignedWithTheKeyItsSourceGivesThen) {
  // The daemon's snapshot holds the key; a reload swaps a new one in.
  base::Latest<shim::ApprovalKey> live(LoadApprovalKey(key_path_).value());
  ApprovalConfig config;
  config.enabled = true;
  config.key_file = key_path_;
  config.dir = issuer_->dir();
  ApprovalIssuer issuer(config, [&] { return live.Get(); });
  ApprovalMinter minter(&issuer, &facts_);
  auto mint = [&] {
    bool rewritten = true;
    std::string out;
    return minter.Rewrite(StartContainer(), Allowed(), std::string_view(), &out, &rewritten);
  };
  ASSERT_TRUE(mint().ok());
  shim::ApprovalRecord record;
  EXPECT_TRUE(Take("c-" + kContainerId, &record).ok());

  const std::string rotated_path = key_path_ + ".new";
  ASSERT_TRUE(shim::CreateApprovalKey(rotated_path).ok());
  live.Set(LoadApprovalKey(rotated_path).value());
  ASSERT_TRUE(mint().ok());
  shim::ApprovalKey rotated;
  ASSERT_TRUE(shim::LoadApprovalKey(rotated_path, &rotated, geteuid()).ok());
  EXPECT_FALSE(Take("c-" + kContainerId, &record).ok()) << "the old key no longer verifies";
  ASSERT_TRUE(mint().ok());
  EXPECT_TRUE(Take("c-" + kContainerId, &record, &rotated).ok());
}

TEST(ApprovalIssuer, RefusesAKeyOthersCanRead) {
  TempDir dir;
  const std::string path = dir.path() + "/approval.key";
  ASSERT_TRUE(shim::CreateApprovalKey(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ApprovalConfig config;
  config.key_file = path;
  std::string error;
  auto refused = ApprovalIssuer::Create(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("chmod 600"), std::string::npos) << refused.error();
  config.key_file = dir.path() + "/missing";
  auto missing = ApprovalIssuer::Create(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot read"), std::string::npos) << missing.error();
}

std::vector<std::string> ParseErrors(std::string_view text, ApprovalConfig* config) {
  toml::table root = toml::parse(text);
  std::vector<std::string> errors;
  *config = ParseApprovalConfig(root, errors);
  return errors;
}

TEST(ApprovalConfigTest, DefaultsLeaveItOff) {
  ApprovalConfig config;
  EXPECT_TRUE(ParseErrors("", &config).empty());
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.key_file, "/etc/crigate/approval.key");
  EXPECT_EQ(config.ttl, std::chrono::seconds(120));
  EXPECT_EQ(config.dir, "/run/crigate/approvals");
}

TEST(ApprovalConfigTest, ReadsEveryKey) {
  ApprovalConfig config;
  EXPECT_TRUE(
      ParseErrors("[approval]\nenabled = true\nkey_file = \"/k\"\ndir = \"/a\"\nttl_seconds = 60\n",
                  &config)
          .empty());
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.key_file, "/k");
  EXPECT_EQ(config.dir, "/a");
  EXPECT_EQ(config.ttl, std::chrono::seconds(60));
}

TEST(ApprovalConfigTest, EveryErrorNamesItsKey) {
  ApprovalConfig config;
  const auto errors = ParseErrors(
      "[approval]\nenabled = \"yes\"\nkey_file = \"relative\"\ndir = \"x\"\nttl_seconds = 0\n"
      "ttl = 5\n",
      &config);
  const std::vector<std::string> expected = {
      "approval.ttl: unknown key", "approval.enabled: must be true or false",
      "approval.key_file: must be an absolute path", "approval.dir: must be an absolute path",
      "approval.ttl_seconds: must be an integer from 1 to "
      "3600"};
  EXPECT_EQ(errors, expected);
  EXPECT_EQ(ParseErrors("approval = 1\n", &config),
            std::vector<std::string>{"approval: must be a table ([approval])"});
}

}  // namespace
}  // namespace crigate::cri
