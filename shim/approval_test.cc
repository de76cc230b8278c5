#include "shim/approval.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace crigate::shim {
namespace {

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
  EXPECT_NE(LoadApprovalKey(dir_ + "/missing", &key, geteuid()).reason().find("cannot read"),
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
