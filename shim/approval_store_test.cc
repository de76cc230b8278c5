#include "shim/approval_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace crigate::shim {
namespace {

constexpr int64_t kNow = 1'700'000'000;

class ApprovalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crigate-approval-store.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    dir_ = base_ + "/approvals";
  }
  void TearDown() override { std::system(("rm -rf " + base_).c_str()); }

  static ApprovalRecord Container(const std::string& id, const std::string& digest) {
    ApprovalRecord r;
    r.kind = ApprovalKind::kContainer;
    r.container_id = id;
    r.spec_digest = digest;
    r.expires_unix = kNow + 60;
    return r;
  }
  static ApprovalRecord Sandbox() {
    ApprovalRecord r;
    r.kind = ApprovalKind::kSandbox;
    r.sandbox.pod_namespace = "default";
    r.sandbox.pod_name = "web";
    r.sandbox.pod_uid = "uid-1";
    r.sandbox.args = {"/pause"};
    r.sandbox.host_network = true;
    r.sandbox.containerd_dirs = {"/var/lib/containerd/cri", "/run/containerd/cri"};
    r.expires_unix = kNow + 60;
    return r;
  }
  bool Exists(const std::string& name) const {
    return access((dir_ + "/" + name).c_str(), F_OK) == 0;
  }

  std::string base_, dir_;
  ApprovalKey key_{std::string(32, 'k')};
};

TEST_F(ApprovalStoreTest, AContainerApprovalIsTakenOnce) {
  ASSERT_TRUE(WriteApproval(dir_, key_, Container("c1", "sha256:aa")).ok());
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(Exists("c-c1"));
  ApprovalRecord got;
  base::Status s = TakeApproval(dir_, "c-c1", key_, kNow, &got);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got.container_id, "c1");
  EXPECT_EQ(got.spec_digest, "sha256:aa");
  EXPECT_FALSE(Exists("c-c1"));
  s = TakeApproval(dir_, "c-c1", key_, kNow, &got);
  EXPECT_TRUE(IsRefusal(s));
  EXPECT_NE(s.message().find("no approval"), std::string::npos);
}

TEST_F(ApprovalStoreTest, ASandboxApprovalRoundTrips) {
  const ApprovalRecord want = Sandbox();
  ASSERT_TRUE(WriteApproval(dir_, key_, want).ok());
  const std::string name = SandboxApprovalName("default", "web", "uid-1");
  EXPECT_EQ(name.size(), 2u + 64u);
  EXPECT_NE(name, SandboxApprovalName("default", "webu", "id-1"));
  ApprovalRecord got;
  ASSERT_TRUE(TakeApproval(dir_, name, key_, kNow, &got).ok());
  EXPECT_EQ(got.kind, ApprovalKind::kSandbox);
  EXPECT_EQ(got.sandbox.args, want.sandbox.args);
  EXPECT_TRUE(got.sandbox.host_network);
  EXPECT_FALSE(got.sandbox.host_pid);
  const ShapeRules rules = got.sandbox.Rules("abc");
  EXPECT_EQ(rules.host_namespaces.count("network"), 1u);
  ASSERT_EQ(rules.bind_prefixes.size(), 2u);
  EXPECT_EQ(rules.bind_prefixes[0], "/var/lib/containerd/cri/sandboxes/abc/");
  // host_network: no network namespace to join; otherwise the one CNI set up.
  EXPECT_TRUE(rules.network_path_prefixes.empty());
  got.sandbox.host_network = false;
  const ShapeRules pod_network = got.sandbox.Rules("abc");
  EXPECT_EQ(pod_network.host_namespaces.count("network"), 0u);
  EXPECT_NE(std::find(pod_network.network_path_prefixes.begin(),
                      pod_network.network_path_prefixes.end(), "/run/containerd/cri/netns/"),
            pod_network.network_path_prefixes.end());
}

TEST_F(ApprovalStoreTest, RefusesARecordSignedWithAnotherKey) {
  ASSERT_TRUE(WriteApproval(dir_, ApprovalKey(std::string(32, 'x')), Container("c1", "d")).ok());
  ApprovalRecord got;
  const base::Status s = TakeApproval(dir_, "c-c1", key_, kNow, &got);
  EXPECT_TRUE(IsRefusal(s));
  EXPECT_NE(s.message().find("not signed"), std::string::npos);
  EXPECT_FALSE(Exists("c-c1"));  // taken all the same
}

TEST_F(ApprovalStoreTest, RefusesAnAlteredRecord) {
  ASSERT_TRUE(WriteApproval(dir_, key_, Container("c1", "sha256:aa")).ok());
  std::ifstream in(dir_ + "/c-c1");
  std::stringstream text;
  text << in.rdbuf();
  std::string altered = text.str();
  const size_t at = altered.find("sha256:aa");
  ASSERT_NE(at, std::string::npos);
  altered.replace(at, 9, "sha256:bb");
  std::ofstream(dir_ + "/c-c1") << altered;
  ApprovalRecord got;
  EXPECT_TRUE(IsRefusal(TakeApproval(dir_, "c-c1", key_, kNow, &got)));
  std::ofstream(dir_ + "/c-c1") << "not json";
  EXPECT_TRUE(IsRefusal(TakeApproval(dir_, "c-c1", key_, kNow, &got)));
}

TEST_F(ApprovalStoreTest, RefusesASignedRecordWithAFloatExpiry) {
  // Found by fuzz_approval: a float expiry out of int64's range was
  // converted to an integer (undefined behaviour) behind a valid MAC.
  std::string text;
  ASSERT_TRUE(
      SignApprovalRecordText(
          R"({"v":2,"kind":"container","id":"c1","digest":"d","expires":1.6e60})", key_, &text)
          .ok());
  ApprovalRecord got;
  const base::Status s = ParseApprovalRecord(text, "c-c1", key_, kNow, &got);
  EXPECT_TRUE(IsRefusal(s));
  EXPECT_NE(s.message().find("malformed"), std::string::npos) << s.message();
  // The same record with an integer expiry is accepted.
  ASSERT_TRUE(
      SignApprovalRecordText(
          R"({"v":2,"ns":"k8s.io","kind":"container","id":"c1","digest":"d","expires":1800000000})",
          key_, &text)
          .ok());
  EXPECT_TRUE(ParseApprovalRecord(text, "c-c1", key_, kNow, &got).ok());
}

TEST_F(ApprovalStoreTest, RefusesAnExpiredRecord) {
  ASSERT_TRUE(WriteApproval(dir_, key_, Container("c1", "d")).ok());
  ApprovalRecord got;
  const base::Status s = TakeApproval(dir_, "c-c1", key_, kNow + 60, &got);
  EXPECT_TRUE(IsRefusal(s));
  EXPECT_NE(s.message().find("expired"), std::string::npos);
}

TEST_F(ApprovalStoreTest, CreatesMissingParents) {
  // /run/crigate/approvals on a fresh boot: /run/crigate is not there yet.
  const std::string deep = base_ + "/run/crigate/approvals";
  ASSERT_TRUE(WriteApproval(deep, key_, Container("c1", "d")).ok());
  struct stat st {};
  ASSERT_EQ(stat((base_ + "/run/crigate").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(stat(deep.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(ApprovalStoreTest, NoDirectoryMeansNoApproval) {
  ApprovalRecord got;
  EXPECT_TRUE(IsRefusal(TakeApproval(dir_ + "/missing", "c-c1", key_, kNow, &got)));
}

TEST_F(ApprovalStoreTest, RefusesADirectoryOthersCanWrite) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0777), 0);
  chmod(dir_.c_str(), 0777);
  EXPECT_TRUE(WriteApproval(dir_, key_, Container("c1", "d")).code() == base::Code::INTERNAL);
  ApprovalRecord got;
  EXPECT_TRUE(TakeApproval(dir_, "c-c1", key_, kNow, &got).code() == base::Code::INTERNAL);
}

TEST_F(ApprovalStoreTest, NamesOnlyWhatContainerdCouldName) {
  EXPECT_EQ(ContainerApprovalName("abc-1.2_3"), "c-abc-1.2_3");
  for (const char* bad : {"", "../x", "a/b", ".hidden", "-x"}) {
    EXPECT_EQ(ContainerApprovalName(bad), "") << bad;
  }
  EXPECT_EQ(ContainerApprovalName(std::string(77, 'a')), "");
  EXPECT_TRUE(WriteApproval(dir_, key_, Container("../x", "d")).code() == base::Code::INTERNAL);
  ApprovalRecord got;
  EXPECT_TRUE(IsRefusal(TakeApproval(dir_, "../x", key_, kNow, &got)));
}

TEST_F(ApprovalStoreTest, RemoveAndClear) {
  ASSERT_TRUE(WriteApproval(dir_, key_, Container("c1", "d")).ok());
  ASSERT_TRUE(WriteApproval(dir_, key_, Container("c2", "d")).ok());
  EXPECT_TRUE(RemoveApproval(dir_, "c-c1"));
  EXPECT_FALSE(RemoveApproval(dir_, "c-c1"));
  EXPECT_EQ(ClearApprovals(dir_), 1);
  EXPECT_FALSE(Exists("c-c2"));
}

}  // namespace
}  // namespace crigate::shim
