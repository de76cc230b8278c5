#include "policy/trust_store.h"

#include <gtest/gtest.h>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using testing::Digest;
using testing::TempDir;

ImageRef Ref(const std::string& text) {
  Result<ImageRef> ref = ParseImageRef(text);
  EXPECT_TRUE(ref.ok()) << ref.error();
  return ref.ok() ? *ref : ImageRef{};
}

std::shared_ptr<const TrustStore> Load(const TempDir& dir, const std::string& text,
                                       std::vector<std::string>& errors) {
  return TrustStore::Load(dir.Write("trust.toml", text), errors);
}

TEST(TrustStoreTest, ParsesEveryKey) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir,
                    R"(
[[rule]]
name = "busybox"
image = "docker.io/library/busybox:*"
registry = "docker.io"
repository = "library/*"
digests = [")" + Digest('a') +
                        R"("]
namespaces = ["default", "edge-*"]
max_cpu_millicores = 500
max_memory_bytes = 268435456
allow_privileged = true
allow_host_network = true
allow_host_pid = true
allow_host_ipc = true
actions = ["CreateContainer", "StartContainer"]
)",
                    errors);
  ASSERT_TRUE(store) << errors[0];
  ASSERT_EQ(store->rules().size(), 1u);
  const TrustRule& r = store->rules()[0];
  EXPECT_EQ(r.name, "busybox");
  EXPECT_EQ(r.digests, std::vector<std::string>{Digest('a')});
  EXPECT_EQ(*r.max_cpu_millicores, 500);
  EXPECT_EQ(*r.max_memory_bytes, 268435456);
  EXPECT_TRUE(r.allow_privileged && r.allow_host_network && r.allow_host_pid && r.allow_host_ipc);
  EXPECT_EQ(r.actions, (std::set<std::string>{"CreateContainer", "StartContainer"}));
  EXPECT_TRUE(r.AllowsNamespace("edge-7"));
  EXPECT_FALSE(r.AllowsNamespace("kube-system"));
  EXPECT_TRUE(r.Pins(Digest('a')));
  EXPECT_FALSE(r.Pins(Digest('b')));
}

TEST(TrustStoreTest, ParsesTheWorkloadProfileAndItsExceptions) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir, R"(
[[rule]]
image = "docker.io/library/busybox:*"
profile = "restricted"
host_paths = [{ path = "/srv/data", read_only = true }, { path = "/var/log/app", read_only = false }]
allow_capabilities = ["cap_net_admin"]
allowed_devices = ["/dev/ttyUSB0"]
allowed_host_ports = [8443]
allowed_sysctls = ["net.core.somaxconn"]
allowed_selinux_types = ["spc_t"]
allow_unconfined_seccomp = true
allow_unconfined_apparmor = true
allow_unmasked_proc = true
allow_root = true
allow_privilege_escalation = true
require_readonly_rootfs = true
require_non_root = true
require_no_new_privs = true

[[rule]]
image = "docker.io/library/nginx:*"

[[rule]]
image = "docker.io/library/debug:*"
profile = "privileged"
)",
                    errors);
  ASSERT_TRUE(store) << errors[0];
  const WorkloadProfile& w = store->rules()[0].workload;
  EXPECT_EQ(w.level, PssLevel::kRestricted);
  ASSERT_EQ(w.host_paths.size(), 2u);
  EXPECT_EQ(w.host_paths[0].path, "/srv/data");
  EXPECT_TRUE(w.host_paths[0].read_only);
  EXPECT_FALSE(w.host_paths[1].read_only);
  EXPECT_EQ(w.capabilities, std::set<std::string>{"NET_ADMIN"});
  EXPECT_EQ(w.devices, std::vector<std::string>{"/dev/ttyUSB0"});
  EXPECT_EQ(w.host_ports, std::set<int32_t>{8443});
  EXPECT_EQ(w.sysctls, std::set<std::string>{"net.core.somaxconn"});
  EXPECT_EQ(w.selinux_types, std::set<std::string>{"spc_t"});
  EXPECT_TRUE(w.allow_unconfined_seccomp && w.allow_unconfined_apparmor && w.allow_unmasked_proc &&
              w.allow_root && w.allow_privilege_escalation);
  EXPECT_TRUE(w.require_readonly_rootfs && w.require_non_root && w.require_no_new_privs);
  // A rule that names no level is baseline; privileged allows what it does.
  EXPECT_EQ(store->rules()[1].workload.level, PssLevel::kBaseline);
  EXPECT_FALSE(store->rules()[1].allow_privileged);
  EXPECT_EQ(store->rules()[2].workload.level, PssLevel::kPrivileged);
  EXPECT_TRUE(store->rules()[2].allow_privileged && store->rules()[2].allow_host_network &&
              store->rules()[2].allow_host_pid && store->rules()[2].allow_host_ipc);
}

TEST(TrustStoreTest, WorkloadProfileErrorsNameTheirKeys) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir, R"(
[[rule]]
image = "docker.io/library/busybox:*"
profile = "strict"
host_paths = [{ path = "relative" }, "/not-a-table", { path = "/x", colour = 1 }]
allowed_host_ports = [0, 70000]
allowed_devices = ["ttyUSB0"]
)",
                    errors);
  EXPECT_FALSE(store);
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  for (const char* fragment :
       {"rule[0].profile: 'strict' is not one of privileged, baseline, restricted",
        "rule[0].host_paths[0].path: must be an absolute path",
        "rule[0].host_paths[1]: must be a table", "rule[0].host_paths[2].colour: unknown key",
        "rule[0].allowed_host_ports[0]: must be a port, 1 to 65535",
        "rule[0].allowed_host_ports[1]: must be a port",
        "rule[0].allowed_devices[0]: 'ttyUSB0' is not an absolute path"}) {
    EXPECT_NE(all.find(fragment), std::string::npos) << fragment << "\n" << all;
  }
}

TEST(TrustStoreTest, FirstMatchingRuleDecidesAndGlobsCoverEachPart) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir, R"(
[[rule]]
name = "exact"
image = "busybox:1.36"
[[rule]]
name = "local-registry"
registry = "localhost:5000"
[[rule]]
name = "team"
repository = "team/*"
actions = ["PullImage"]
[[rule]]
name = "library"
image = "docker.io/library/*"
)",
                    errors);
  ASSERT_TRUE(store) << errors[0];
  auto name_of = [&](const std::string& image, const std::string& action) {
    const TrustRule* rule = store->Match(Ref(image), action);
    return rule ? rule->name : std::string("none");
  };
  EXPECT_EQ(name_of("busybox:1.36", "CreateContainer"), "exact");  // normalised pattern
  EXPECT_EQ(name_of("busybox", "CreateContainer"), "library");
  EXPECT_EQ(name_of("localhost:5000/anything/at:all", "RemoveImage"), "local-registry");
  EXPECT_EQ(name_of("quay.io/team/app:v1", "PullImage"), "team");
  EXPECT_EQ(name_of("quay.io/team/app:v1", "CreateContainer"), "none");  // actions filter
  EXPECT_EQ(name_of("quay.io/other/app:v1", "PullImage"), "none");
  EXPECT_EQ(name_of("busybox@" + Digest('c'), "CreateContainer"), "library");
  // An image id never matches a name glob: it must be resolved to its names first.
  EXPECT_EQ(store->Match(Ref(Digest('c')), "CreateContainer"), nullptr);
}

TEST(TrustStoreTest, ImageGlobSplitsIntoNameTagAndDigest) {
  auto matches = [](const std::string& pattern, const std::string& image) {
    TrustRule rule;
    rule.image = pattern;
    return rule.MatchesImage(Ref(image));
  };
  EXPECT_TRUE(matches("docker.io/library/busybox:1.*", "busybox:1.36"));
  EXPECT_FALSE(matches("docker.io/library/busybox:1.*", "busybox:latest"));
  EXPECT_FALSE(matches("docker.io/library/busybox:1.*", "busybox@" + Digest('a')));
  EXPECT_TRUE(matches("docker.io/library/busybox:*", "busybox@" + Digest('a')));
  EXPECT_TRUE(matches("docker.io/library/busybox:*", "busybox:1.36@" + Digest('a')));
  EXPECT_FALSE(matches("docker.io/library/busybox:*", "busyboxx:1"));
  EXPECT_TRUE(matches("docker.io/library/busybox@" + Digest('a'), "busybox@" + Digest('a')));
  EXPECT_FALSE(matches("docker.io/library/busybox@" + Digest('a'), "busybox@" + Digest('b')));
  EXPECT_FALSE(matches("docker.io/library/busybox@" + Digest('a'), "busybox:1.36"));
  EXPECT_TRUE(matches("localhost:5000/*", "localhost:5000/a/b:c"));  // the port is in NAME
  EXPECT_FALSE(matches("localhost:5000/*", "localhost:5001/a"));
  EXPECT_TRUE(matches("*", "quay.io/x/y@" + Digest('a')));
}

TEST(TrustStoreTest, EmptyStoreIsValidAndMatchesNothing) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir, "", errors);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Match(Ref("busybox"), "CreateContainer"), nullptr);
}

TEST(TrustStoreTest, EveryProblemIsReportedWithItsKey) {
  TempDir dir;
  std::vector<std::string> errors;
  auto store = Load(dir, R"(
version = 2
[[rule]]
imag = "docker.io/library/busybox:*"
[[rule]]
image = "docker.io/*"
digests = ["sha256:short"]
max_cpu_millicores = -1
allow_privileged = "yes"
actions = ["Launch"]
[[rule]]
name = "glob-too-short"
image = "busy*"
[[rule]]
image = "Busybox"
)",
                    errors);
  EXPECT_EQ(store, nullptr);
  const std::string p = dir.path() + "/trust.toml: ";
  std::vector<std::string> want = {
      p + "version: unknown key",
      p + "rule[0].imag: unknown key",
      p + "rule[0]: needs image, registry or repository (image = \"*\" matches every image)",
      p + "rule[1].max_cpu_millicores: must be an integer from 1 to 1099511627776",
      p + "rule[1].allow_privileged: must be true or false",
  };
  for (const auto& w : want) {
    EXPECT_NE(std::find(errors.begin(), errors.end(), w), errors.end()) << "missing: " << w;
  }
  auto has = [&](const std::string& fragment) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const auto& e) { return e.find(fragment) != std::string::npos; });
  };
  EXPECT_TRUE(has("rule[1].actions[0]: 'Launch' is not one of:"));
  EXPECT_TRUE(has("rule[1].digests[0]: 'sha256:short' is not sha256:<64 lowercase hex>"));
  EXPECT_TRUE(has("rule[2].image: 'busy*' is matched against normalised references"));
  EXPECT_TRUE(has(
      "rule[3].image: image reference 'Busybox' is invalid: repository name must be lowercase"));
}

TEST(TrustStoreTest, BrokenTomlAndMissingFileNameTheFile) {
  TempDir dir;
  std::vector<std::string> errors;
  EXPECT_EQ(Load(dir, "[[rule]\nimage = ", errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(dir.path() + "/trust.toml:1:", 0), 0u) << errors[0];
  errors.clear();
  EXPECT_EQ(TrustStore::Load(dir.path() + "/absent.toml", errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("absent.toml"), std::string::npos);
}

}  // namespace
}  // namespace crigate::policy
