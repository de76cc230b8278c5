#include "policy/policy_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "policy/actions.h"
#include "policy/testing.h"

namespace crigate::policy {
namespace {

using testing::NewKey;
using testing::TempDir;

class PolicyConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Write("trust.toml", "[[rule]]\nimage = \"*\"\n");
    mkdir((dir_.path() + "/keys").c_str(), 0700);
    key_ = dir_.Write("keys/ops.pub", *NewKey(JwsAlg::kEdDSA, "ops")->PublicPem());
  }

  // The files every config needs, then extra.
  std::string Base(const std::string& extra = {}) const {
    return "[trust]\nstore = \"" + store_ + "\"\n[token]\nkeys = [\"" + dir_.path() + "/keys\"]\n" +
           "[audit]\npath = \"" + dir_.path() + "/audit.jsonl\"\n" + extra;
  }

  std::shared_ptr<const PolicyConfig> Parse(const std::string& text) {
    errors_.clear();
    toml::table root;
    try {
      root = toml::parse(text);
    } catch (const toml::parse_error& e) {
      ADD_FAILURE() << "test TOML does not parse: " << e.description() << "\n" << text;
    }
    return ParsePolicyConfig(root, errors_);
  }

  bool HasError(const std::string& fragment) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [&](const auto& e) { return e.find(fragment) != std::string::npos; });
  }

  std::string AllErrors() const {
    std::string out;
    for (const auto& e : errors_) out += e + "\n";
    return out;
  }

  TempDir dir_;
  std::string store_, key_;
  std::vector<std::string> errors_;
};

TEST_F(PolicyConfigTest, EveryMethodHasAClassAndUnknownOnesAreMutating) {
  auto config = Parse(Base());
  ASSERT_TRUE(config) << AllErrors();
  EXPECT_EQ(config->ClassOf(CriService::kRuntime, "ListContainers"), MethodClass::kReadOnly);
  EXPECT_EQ(config->ClassOf(CriService::kImage, "ImageFsInfo"), MethodClass::kReadOnly);
  EXPECT_EQ(config->ClassOf(CriService::kRuntime, "RunPodSandbox"), MethodClass::kGated);
  EXPECT_EQ(config->ClassOf(CriService::kImage, "PullImage"), MethodClass::kGated);
  // Not gated by default, but never open: privilege + audit.
  for (const char* m : {"StopContainer", "RemoveContainer", "ExecSync", "Exec", "Attach",
                        "PortForward", "UpdateContainerResources", "UpdateRuntimeConfig"}) {
    EXPECT_EQ(config->ClassOf(CriService::kRuntime, m), MethodClass::kMutating) << m;
  }
  // Unknown to the table: mutating, even under a read-only-looking name or a
  // gated name in the other service.
  EXPECT_EQ(config->ClassOf(CriService::kRuntime, "ListSecrets"), MethodClass::kMutating);
  EXPECT_EQ(config->ClassOf(CriService::kImage, "RunPodSandbox"), MethodClass::kMutating);
  EXPECT_EQ(config->ClassOf(CriService::kImage, "ListContainers"), MethodClass::kMutating);
}

TEST_F(PolicyConfigTest, GatingOneOfTheExecFamilyGatesAll) {
  std::string text = Base("[gate]\nmethods = [\"PortForward\"]\n");
  text.replace(text.find("[token]\n"), 8, "[token]\nrequired_for = []\n");
  auto config = Parse(text);
  ASSERT_TRUE(config) << AllErrors();
  for (const char* m : {"Exec", "ExecSync", "Attach", "PortForward"}) {
    EXPECT_EQ(config->ClassOf(CriService::kRuntime, m), MethodClass::kGated) << m;
  }
  EXPECT_EQ(config->ClassOf(CriService::kRuntime, "RunPodSandbox"), MethodClass::kMutating);
}

TEST_F(PolicyConfigTest, DefaultsFillEveryKeyNotGiven) {
  auto config = Parse(Base());
  ASSERT_TRUE(config) << AllErrors();
  EXPECT_EQ(config->gate.methods, DefaultGatedActions());
  EXPECT_TRUE(config->gate.read_only_open);
  EXPECT_TRUE(config->privilege.enabled);
  EXPECT_EQ(config->privilege.super_uids, std::set<uid_t>{0});
  EXPECT_TRUE(config->privilege.super_gids.empty());
  EXPECT_EQ(config->trust.sandbox_image, "registry.k8s.io/pause:3.6");
  ASSERT_TRUE(config->trust.loaded);
  EXPECT_EQ(config->trust.loaded->rules().size(), 1u);
  EXPECT_EQ(config->token.required_for, DefaultTokenRequiredActions());
  EXPECT_EQ(config->token.required_for.count("RemoveImage"), 0u);
  EXPECT_EQ(config->token.max_ttl, std::chrono::seconds(3600));
  EXPECT_EQ(config->token.clock_skew, std::chrono::seconds(30));
  EXPECT_EQ(config->token.replay_cache_size, 100000u);
  ASSERT_TRUE(config->token.loaded);
  EXPECT_NE(config->token.loaded->Find("ops"), nullptr);
  EXPECT_EQ(config->audit.max_bytes, 64u << 20);
  EXPECT_EQ(config->audit.keep, 5);
  EXPECT_FALSE(config->audit.fsync);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(config->node_id, host);
}

TEST_F(PolicyConfigTest, EveryKeyIsRead) {
  auto config = Parse(R"(
[gate]
methods = ["CreateContainer", "StartContainer", "Exec"]
read_only_open = false
[privilege]
super_uids = [0, "root", 1001]
super_groups = ["root", 990]
[trust]
store = ")" + store_ + R"("
sandbox_image = "localhost:5000/pause:3.9"
[token]
keys = [")" + key_ + R"("]
required_for = ["CreateContainer"]
max_ttl = "10m"
replay_cache_size = 50
clock_skew = 5
[audit]
path = "/var/log/x.jsonl"
max_bytes = 4096
keep = 2
fsync = true
[node]
id = "gw-7"
)");
  ASSERT_TRUE(config) << AllErrors();
  // Exec brings its family: ExecSync, Attach and PortForward open the same doors.
  EXPECT_EQ(config->gate.methods,
            (std::set<std::string>{"CreateContainer", "StartContainer", "Exec", "ExecSync",
                                   "Attach", "PortForward"}));
  EXPECT_TRUE(config->Gates("Exec"));
  EXPECT_TRUE(config->Gates("ExecSync"));
  EXPECT_EQ(config->ClassOf(CriService::kRuntime, "ListContainers"),
            MethodClass::kMutating);  // read-only closed: privilege + audit
  EXPECT_FALSE(config->Gates("PullImage"));
  EXPECT_EQ(config->ClassOf(CriService::kImage, "PullImage"), MethodClass::kMutating);
  EXPECT_EQ(config->privilege.super_uids, (std::set<uid_t>{0, 1001}));
  EXPECT_EQ(config->privilege.super_gids, (std::set<gid_t>{0, 990}));
  EXPECT_EQ(config->trust.sandbox_image, "localhost:5000/pause:3.9");
  EXPECT_EQ(config->token.required_for, std::set<std::string>{"CreateContainer"});
  EXPECT_EQ(config->token.max_ttl, std::chrono::seconds(600));
  EXPECT_EQ(config->token.clock_skew, std::chrono::seconds(5));
  EXPECT_EQ(config->token.replay_cache_size, 50u);
  EXPECT_EQ(config->audit.path, "/var/log/x.jsonl");
  EXPECT_EQ(config->audit.max_bytes, 4096u);
  EXPECT_EQ(config->audit.keep, 2);
  EXPECT_TRUE(config->audit.fsync);
  EXPECT_EQ(config->node_id, "gw-7");
}

TEST_F(PolicyConfigTest, ErrorsNameTheirKeys) {
  auto config = Parse(R"(
[gate]
methods = ["CreateContainer", "Launch"]
colour = "blue"
[privilege]
super_uids = ["no-such-user-xyz", -3]
super_groups = ["no-such-group-xyz"]
[trust]
store = "/nonexistent/trust.toml"
sandbox_image = "Pause"
[token]
keys = [")" + key_ + R"(", "/x.pem"]
required_for = ["RemoveImage", "StartContainer"]
max_ttl = "forever"
clock_skew = "2h"
replay_cache_size = 0
[audit]
path = "audit.jsonl"
max_bytes = 100
keep = 0
[node]
id = ""
)");
  EXPECT_EQ(config, nullptr);
  for (const char* want : {
           "gate.methods[1]: 'Launch' is not one of:",
           "gate.colour: unknown key",
           "privilege.super_uids[0]: no user named 'no-such-user-xyz'",
           "privilege.super_uids[1]: must be a non-negative id",
           "privilege.super_groups[0]: no group named 'no-such-group-xyz'",
           "trust.store: cannot read /nonexistent/trust.toml: No such file or directory",
           "trust.sandbox_image: image reference 'Pause' is invalid: repository name must be "
           "lowercase",
           "token.keys[1]: cannot read /x.pem: No such file or directory",
           "token.max_ttl: must be a duration from 1s to 2592000s",
           "token.clock_skew: must be a duration from 0s to 3600s",
           "token.replay_cache_size: must be an integer from 1 to 10000000",
           "audit.path: must be an absolute path",
           "audit.max_bytes: must be 0 (never rotate) or at least 4096",
           "audit.keep: must be an integer from 1 to 1000",
           "node.id: must be a non-empty string",
       }) {
    EXPECT_TRUE(HasError(want)) << "missing: " << want << "\ngot:\n" << AllErrors();
  }
  // gate.methods is left at its default when broken, so StartContainer is gated
  // and RemoveImage is too; only a required_for outside the gate is reported.
  EXPECT_FALSE(HasError("token.required_for"));
}

TEST_F(PolicyConfigTest, TokenRequiredForAnUngatedMethodIsAnError) {
  auto config = Parse(Base("[gate]\nmethods = [\"CreateContainer\"]\n"));
  EXPECT_EQ(config, nullptr);
  EXPECT_TRUE(HasError("token.required_for: 'PullImage' is not in gate.methods")) << AllErrors();
}

TEST_F(PolicyConfigTest, BrokenTrustStoreIsReportedUnderTrustStore) {
  dir_.Write("trust.toml", "[[rule]]\nimage = \"docker.io/*\"\ndigests = [\"sha256:x\"]\n");
  EXPECT_EQ(Parse(Base()), nullptr);
  EXPECT_TRUE(HasError("trust.store: " + store_ + ": rule[0].digests[0]: 'sha256:x'"))
      << AllErrors();
}

TEST_F(PolicyConfigTest, DisabledStagesReadNoFiles) {
  auto config = Parse(R"(
[trust]
enabled = false
store = "/nonexistent/trust.toml"
[token]
enabled = false
keys = ["/nonexistent/keys"]
[audit]
path = "/tmp/audit.jsonl"
)");
  ASSERT_TRUE(config) << AllErrors();
  EXPECT_FALSE(config->trust.loaded);
  EXPECT_FALSE(config->token.loaded);
}

TEST_F(PolicyConfigTest, SectionThatIsNotATableIsAnError) {
  EXPECT_EQ(Parse("privilege = 3\n" + Base()), nullptr);
  EXPECT_TRUE(HasError("privilege: must be a table ([privilege])")) << AllErrors();
}

}  // namespace
}  // namespace crigate::policy
