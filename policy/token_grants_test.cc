#include "policy/token_grants.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

const std::string kId(64, 'a');

TEST(TokenGrants, RemembersFindsAndForgets) {
  for (bool on_disk : {false, true}) {
    testing::TempDir dir;
    auto grants = TokenGrants::Open(on_disk ? dir.path() + "/grants" : "", std::chrono::hours(1));
    ASSERT_TRUE(grants.ok()) << grants.error();
    EXPECT_FALSE((*grants)->Find(kId));
    ASSERT_TRUE((*grants)->Remember(kId, "tok.en.sig").ok());
    EXPECT_EQ((*grants)->Find(kId).value_or(""), "tok.en.sig");
    (*grants)->Forget(kId);
    EXPECT_FALSE((*grants)->Find(kId)) << on_disk;
  }
}

TEST(TokenGrants, OnlyFullContainerdIdsAreKeys) {
  auto grants = TokenGrants::Open("", std::chrono::hours(1));
  ASSERT_TRUE(grants.ok());
  for (const std::string& id : {std::string("abc"), std::string(64, 'A'),
                                "../" + std::string(61, 'a'), std::string(63, 'a') + "/"}) {
    base::Status s = (*grants)->Remember(id, "t");
    EXPECT_EQ(s.code(), base::Code::INVALID_ARGUMENT) << id;
    EXPECT_FALSE((*grants)->Find(id));
  }
}

TEST(TokenGrants, KeptTokensSurviveARestartInAPrivateDirectory) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/grants";
  {
    auto grants = TokenGrants::Open(path, std::chrono::hours(1));
    ASSERT_TRUE(grants.ok()) << grants.error();
    ASSERT_TRUE((*grants)->Remember(kId, "kept").ok());
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((path + "/" + kId).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto reopened = TokenGrants::Open(path, std::chrono::hours(1));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Find(kId).value_or(""), "kept");
}

TEST(TokenGrants, FilesOlderThanTheLongestTokenAreDroppedAtOpen) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/grants";
  {
    auto grants = TokenGrants::Open(path, std::chrono::hours(1));
    ASSERT_TRUE(grants.ok());
    ASSERT_TRUE((*grants)->Remember(kId, "old").ok());
  }
  struct utimbuf two_hours_ago {};
  two_hours_ago.actime = two_hours_ago.modtime = time(nullptr) - 7200;
  ASSERT_EQ(utime((path + "/" + kId).c_str(), &two_hours_ago), 0);
  auto reopened = TokenGrants::Open(path, std::chrono::hours(1));
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE((*reopened)->Find(kId));
}

TEST(TokenGrants, ADirectoryOthersCanReadIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/open";
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  auto grants = TokenGrants::Open(path, std::chrono::hours(1));
  ASSERT_FALSE(grants.ok());
  EXPECT_EQ(grants.code(), base::Code::FAILED_PRECONDITION);
  EXPECT_NE(grants.error().find("no group or other access"), std::string::npos) << grants.error();
}

}  // namespace
}  // namespace crigate::policy
