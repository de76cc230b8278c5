#include "shim/used_approvals.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace crigate::shim {
namespace {

class UsedApprovalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crigate-used-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  int Entries(const std::string& dir) {
    int n = 0;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return -1;
    while (const dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n;
  }
  std::string dir_;
};

TEST_F(UsedApprovalsTest, SecondUseIsRefused) {
  const std::string state = dir_ + "/run/crigate/shim";  // created on first use
  const VerifiedApproval a{1000, "mac-a"};
  ASSERT_TRUE(RecordFirstUse(state, a, 900).ok());
  struct stat st {};
  ASSERT_EQ(stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const ApprovalStatus again = RecordFirstUse(state, a, 901);
  EXPECT_TRUE(again.refused());
  EXPECT_NE(again.reason().find("already used"), std::string::npos);
  EXPECT_TRUE(RecordFirstUse(state, VerifiedApproval{1000, "mac-b"}, 901).ok());
}

TEST_F(UsedApprovalsTest, LongExpiredRecordsArePruned) {
  ASSERT_TRUE(RecordFirstUse(dir_, VerifiedApproval{100, "old"}, 50).ok());
  ASSERT_TRUE(RecordFirstUse(dir_, VerifiedApproval{5000, "new"}, 60).ok());
  std::ofstream(dir_ + "/unrelated") << "x";
  EXPECT_EQ(Entries(dir_), 3);
  ASSERT_TRUE(
      RecordFirstUse(dir_, VerifiedApproval{5000, "newer"}, 100 + kUsedApprovalGraceSeconds + 1)
          .ok());
  EXPECT_EQ(Entries(dir_), 3);  // "old" gone; "new", "newer", "unrelated" stay
}

TEST_F(UsedApprovalsTest, ADirectoryOthersCanWriteIsAnError) {
  chmod(dir_.c_str(), 0777);
  EXPECT_TRUE(RecordFirstUse(dir_, VerifiedApproval{1000, "a"}, 900).error());
  EXPECT_TRUE(RecordFirstUse(dir_, VerifiedApproval{1000, "a/b"}, 900).error());
}

}  // namespace
}  // namespace crigate::shim
