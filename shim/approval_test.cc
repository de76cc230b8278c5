#include "shim/approval.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace crigate::shim {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point(seconds(1'700'000'000));
const std::string kSandboxId(64, 'a');
const std::string kOtherSandboxId(64, 'b');

ApprovalKey TestKey(char fill = 'k') { return ApprovalKey(std::string(32, fill)); }

ApprovalFields Pod() { return SandboxApprovalFields("default", "web", "uid-1"); }
ApprovalFields Ctr() {
  return ContainerApprovalFields("default", "web", "uid-1", kSandboxId, "nginx",
                                 "docker.io/library/nginx:1.25");
}

std::string Mint(const ApprovalFields& f, seconds ttl = seconds(60),
                 const ApprovalKey& key = TestKey()) {
  std::string token;
  const ApprovalStatus s = MintApproval(key, f, ttl, &token, kNow);
  EXPECT_TRUE(s.ok()) << s.reason();
  return token;
}

TEST(ApprovalTest, SandboxAndContainerApprovalsVerify) {
  for (const ApprovalFields& f : {Pod(), Ctr()}) {
    const std::string token = Mint(f);
    VerifiedApproval v;
    const ApprovalStatus s = VerifyApproval(TestKey(), f, token, kNow + seconds(59), &v);
    EXPECT_TRUE(s.ok()) << s.reason();
    EXPECT_EQ(v.expires_unix, 1'700'000'060);
    EXPECT_EQ(v.id.size(), 43u);
  }
}

TEST(ApprovalTest, TokenShape) {
  const std::string token = Mint(Ctr());
  EXPECT_EQ(token.rfind("v1.c.1700000060.", 0), 0u) << token;
  EXPECT_EQ(token.size(), std::string("v1.c.1700000060.").size() + 16 + 1 + 43);
  EXPECT_EQ(Mint(Pod()).rfind("v1.s.", 0), 0u);
}

TEST(ApprovalTest, EveryApprovalIsUnique) { EXPECT_NE(Mint(Pod()), Mint(Pod())); }

TEST(ApprovalTest, ExpiredApprovalIsRefused) {
  const std::string token = Mint(Pod(), seconds(60));
  const ApprovalStatus s = VerifyApproval(TestKey(), Pod(), token, kNow + seconds(60));
  EXPECT_TRUE(s.refused());
  EXPECT_EQ(s.reason(), "approval expired at 2023-11-14T22:14:20Z (now 2023-11-14T22:14:20Z)");
}

TEST(ApprovalTest, TamperedTokenIsRefused) {
  const std::string token = Mint(Ctr());
  // Each of: a later expiry, another nonce, another mac.
  std::string later = token;
  later.replace(5, 10, "1800000060");
  std::string other_nonce = token;
  other_nonce[16] = other_nonce[16] == 'A' ? 'B' : 'A';
  std::string other_mac = token;
  other_mac.back() = other_mac.back() == 'A' ? 'Q' : 'A';
  for (const std::string& t : {later, other_nonce, other_mac}) {
    const ApprovalStatus s = VerifyApproval(TestKey(), Ctr(), t, kNow);
    EXPECT_TRUE(s.refused()) << t;
    EXPECT_EQ(s.reason().rfind("approval signature does not match container default/web/nginx", 0),
              0u)
        << s.reason();
  }
}

TEST(ApprovalTest, ApprovalCopiedToAnotherContainerIsRefused) {
  const std::string token = Mint(Ctr());
  ApprovalFields other_name = Ctr();
  other_name.container_name = "evil";
  ApprovalFields other_pod = Ctr();
  other_pod.sandbox_id = kOtherSandboxId;
  ApprovalFields other_image = Ctr();
  other_image.image = "docker.io/library/busybox:1.35";
  ApprovalFields other_uid = Ctr();
  other_uid.pod_uid = "uid-2";
  ApprovalFields other_ns = Ctr();
  other_ns.pod_namespace = "kube-system";
  for (const ApprovalFields& f : {other_name, other_pod, other_image, other_uid, other_ns}) {
    const ApprovalStatus s = VerifyApproval(TestKey(), f, token, kNow);
    EXPECT_TRUE(s.refused());
    EXPECT_NE(s.reason().find("copied from another container or pod"), std::string::npos)
        << s.reason();
  }
}

TEST(ApprovalTest, FieldBoundariesCannotBeShifted) {
  // "ab"+"c" and "a"+"bc" must not sign alike.
  const std::string token = Mint(SandboxApprovalFields("ab", "c", "u"));
  EXPECT_TRUE(
      VerifyApproval(TestKey(), SandboxApprovalFields("a", "bc", "u"), token, kNow).refused());
}

TEST(ApprovalTest, WrongKeyIsRefused) {
  const std::string token = Mint(Pod());
  const ApprovalStatus s = VerifyApproval(TestKey('x'), Pod(), token, kNow);
  EXPECT_TRUE(s.refused());
  EXPECT_NE(s.reason().find("signed with another key"), std::string::npos);
}

TEST(ApprovalTest, PodApprovalOnAContainerIsRefused) {
  const std::string token = Mint(Pod());
  const ApprovalStatus s = VerifyApproval(TestKey(), Ctr(), token, kNow);
  EXPECT_TRUE(s.refused());
  EXPECT_EQ(s.reason(),
            "approval was issued for a sandbox, but this is container default/web/nginx (the "
            "pod's approval reached a container that crigate did not approve)");
}

TEST(ApprovalTest, MalformedTokensAreRefused) {
  const std::string good = Mint(Pod());
  for (const std::string& t :
       {std::string(), std::string("garbage"), "v2" + good.substr(2), good + ".x",
        good.substr(0, good.size() - 1), "v1.x" + good.substr(4),
        "v1.s.01700000060.aaaaaaaaaaaaaaaa." + std::string(43, 'a'),
        "v1.s.-1.aaaaaaaaaaaaaaaa." + std::string(43, 'a'),
        "v1.s.1.aaaaaaaaaaaaaaa=." + std::string(43, 'a')}) {
    const ApprovalStatus s = VerifyApproval(TestKey(), Pod(), t, kNow);
    EXPECT_TRUE(s.refused()) << t;
    EXPECT_EQ(s.reason().rfind("malformed crigate.io/approval annotation", 0), 0u) << t;
  }
}

TEST(ApprovalTest, VerifyWithoutKeyIsAnError) {
  EXPECT_TRUE(VerifyApproval(ApprovalKey(), Pod(), Mint(Pod()), kNow).error());
}

TEST(ApprovalTest, MintRefusesWhatCannotVerify) {
  std::string token;
  EXPECT_TRUE(MintApproval(ApprovalKey(), Pod(), seconds(60), &token, kNow).error());
  EXPECT_TRUE(MintApproval(TestKey(), Pod(), seconds(0), &token, kNow).error());
  ApprovalFields truncated = Ctr();
  truncated.sandbox_id = "aaaa";
  const ApprovalStatus s = MintApproval(TestKey(), truncated, seconds(60), &token, kNow);
  EXPECT_TRUE(s.error());
  EXPECT_NE(s.reason().find("not containerd's full 64-hex id"), std::string::npos);
  ApprovalFields no_image = Ctr();
  no_image.image.clear();
  EXPECT_TRUE(MintApproval(TestKey(), no_image, seconds(60), &token, kNow).error());
  ApprovalFields pod_with_container = Pod();
  pod_with_container.container_name = "x";
  EXPECT_TRUE(MintApproval(TestKey(), pod_with_container, seconds(60), &token, kNow).error());
}

std::map<std::string, std::string> ContainerSpecAnnotations(const std::string& token) {
  return {{"io.kubernetes.cri.container-type", "container"},
          {"io.kubernetes.cri.sandbox-id", kSandboxId},
          {"io.kubernetes.cri.sandbox-namespace", "default"},
          {"io.kubernetes.cri.sandbox-name", "web"},
          {"io.kubernetes.cri.sandbox-uid", "uid-1"},
          {"io.kubernetes.cri.container-name", "nginx"},
          {"io.kubernetes.cri.image-name", "docker.io/library/nginx:1.25"},
          {"crigate.io/approval", token}};
}

TEST(ApprovalTest, FieldsFromSpecAnnotationsMatchWhatTheGateSigned) {
  const std::string token = Mint(Ctr());
  ApprovalFields f;
  std::string got;
  ASSERT_TRUE(ApprovalFromSpecAnnotations(ContainerSpecAnnotations(token), &f, &got).ok());
  EXPECT_EQ(got, token);
  EXPECT_TRUE(VerifyApproval(TestKey(), f, got, kNow).ok());
}

TEST(ApprovalTest, SandboxSpecIgnoresItsOwnSandboxId) {
  // containerd writes the sandbox's id into its spec; the gate cannot know it.
  const std::string token = Mint(Pod());
  std::map<std::string, std::string> a = {{"io.kubernetes.cri.container-type", "sandbox"},
                                          {"io.kubernetes.cri.sandbox-id", kSandboxId},
                                          {"io.kubernetes.cri.sandbox-namespace", "default"},
                                          {"io.kubernetes.cri.sandbox-name", "web"},
                                          {"io.kubernetes.cri.sandbox-uid", "uid-1"},
                                          {"crigate.io/approval", token}};
  ApprovalFields f;
  std::string got;
  ASSERT_TRUE(ApprovalFromSpecAnnotations(a, &f, &got).ok());
  EXPECT_TRUE(VerifyApproval(TestKey(), f, got, kNow).ok());
}

TEST(ApprovalTest, SpecWithoutApprovalSaysSo) {
  auto a = ContainerSpecAnnotations("");
  a.erase("crigate.io/approval");
  ApprovalFields f;
  std::string token;
  const ApprovalStatus s = ApprovalFromSpecAnnotations(a, &f, &token);
  EXPECT_TRUE(s.refused());
  EXPECT_EQ(s.reason(), "no crigate.io/approval annotation: not started through crigate");
  // `ctr run` with a copied approval but no CRI annotations.
  const ApprovalStatus s2 =
      ApprovalFromSpecAnnotations({{"crigate.io/approval", Mint(Pod())}}, &f, &token);
  EXPECT_TRUE(s2.refused());
  EXPECT_NE(s2.reason().find("io.kubernetes.cri.container-type"), std::string::npos);
}

TEST(ContainerdImageNameTest, RanksAsContainerdsImageStore) {
  const std::string id = "sha256:" + std::string(64, 'c');
  const std::string dig = "docker.io/library/busybox@sha256:" + std::string(64, 'd');
  EXPECT_EQ(ContainerdImageName(
                id, {"docker.io/library/busybox:latest", "docker.io/library/busybox:1.35"}, {dig}),
            "docker.io/library/busybox:1.35");
  EXPECT_EQ(ContainerdImageName(id, {}, {dig}), dig);
  EXPECT_EQ(ContainerdImageName(id, {}, {}), id);
  EXPECT_EQ(ContainerdImageName("", {}, {}), "");
  // A registry with a port is not a tag.
  EXPECT_EQ(ContainerdImageName(id, {}, {"localhost:5000/x@sha256:" + std::string(64, 'e')}),
            "localhost:5000/x@sha256:" + std::string(64, 'e'));
  // name:tag@digest ranks first.
  const std::string both = "docker.io/library/busybox:1.35@sha256:" + std::string(64, 'd');
  EXPECT_EQ(ContainerdImageName(id, {"docker.io/library/a:1"}, {dig, both}), both);
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crigate-approval-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string Write(const std::string& name, const std::string& bytes, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << bytes;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string dir_;
};

TEST_F(KeyFileTest, LoadsAPrivateKey) {
  const std::string path = Write("key", std::string(32, 'k'), 0600);
  ApprovalKey key;
  const ApprovalStatus s = LoadApprovalKey(path, &key, geteuid());
  ASSERT_TRUE(s.ok()) << s.reason();
  EXPECT_EQ(key.bytes(), std::string(32, 'k'));
  EXPECT_TRUE(LoadApprovalKey(Write("ro", std::string(40, 'k'), 0400), &key, geteuid()).ok());
}

TEST_F(KeyFileTest, RefusesAKeyOthersCanRead) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    const std::string path = Write("key" + std::to_string(mode), std::string(32, 'k'), mode);
    ApprovalKey key;
    const ApprovalStatus s = LoadApprovalKey(path, &key, geteuid());
    EXPECT_TRUE(s.error()) << mode;
    EXPECT_NE(s.reason().find("group and others must have no access (chmod 600)"),
              std::string::npos)
        << s.reason();
    EXPECT_TRUE(key.empty());
  }
}

TEST_F(KeyFileTest, RefusesAKeyOwnedBySomeoneElse) {
  const std::string path = Write("key", std::string(32, 'k'), 0600);
  ApprovalKey key;
  const ApprovalStatus s = LoadApprovalKey(path, &key, geteuid() + 1);
  EXPECT_TRUE(s.error());
  EXPECT_NE(s.reason().find("must be owned by uid"), std::string::npos) << s.reason();
}

TEST_F(KeyFileTest, RefusesAShortKeyAMissingOneAndADirectory) {
  ApprovalKey key;
  EXPECT_NE(LoadApprovalKey(Write("short", std::string(31, 'k'), 0600), &key, geteuid())
                .reason()
                .find("holds 31 bytes"),
            std::string::npos);
  EXPECT_NE(LoadApprovalKey(dir_ + "/missing", &key, geteuid()).reason().find("cannot open"),
            std::string::npos);
  EXPECT_TRUE(LoadApprovalKey(dir_, &key, geteuid()).error());
}

TEST_F(KeyFileTest, CreatesAKeyThatLoads) {
  const std::string path = dir_ + "/new.key";
  ASSERT_TRUE(CreateApprovalKey(path).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ApprovalKey key;
  ASSERT_TRUE(LoadApprovalKey(path, &key, geteuid()).ok());
  EXPECT_EQ(key.bytes().size(), 32u);
  EXPECT_TRUE(CreateApprovalKey(path).error());  // never overwrites
}

}  // namespace
}  // namespace crigate::shim
