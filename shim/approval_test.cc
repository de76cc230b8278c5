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
  const base::Status s = LoadApprovalKey(path, &key, geteuid());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(key.bytes(), std::string(32, 'k'));
  EXPECT_TRUE(LoadApprovalKey(Write("ro", std::string(40, 'k'), 0400), &key, geteuid()).ok());
}

TEST_F(KeyFileTest, RefusesAKeyOthersCanRead) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    const std::string path = Write("key" + std::to_string(mode), std::string(32, 'k'), mode);
    ApprovalKey key;
    const base::Status s = LoadApprovalKey(path, &key, geteuid());
    EXPECT_TRUE(s.code() == base::Code::INTERNAL) << mode;
    EXPECT_NE(s.message().find("group and others must have no access (chmod 600)"),
              std::string::npos)
        << s.message();
    EXPECT_TRUE(key.empty());
  }
}

TEST_F(KeyFileTest, RefusesAKeyOwnedBySomeoneElse) {
  const std::string path = Write("key", std::string(32, 'k'), 0600);
  ApprovalKey key;
  const base::Status s = LoadApprovalKey(path, &key, geteuid() + 1);
  EXPECT_TRUE(s.code() == base::Code::INTERNAL);
  EXPECT_NE(s.message().find("must be owned by uid"), std::string::npos) << s.message();
}

TEST_F(KeyFileTest, RefusesAShortKeyAMissingOneAndADirectory) {
  ApprovalKey key;
  EXPECT_NE(LoadApprovalKey(Write("short", std::string(31, 'k'), 0600), &key, geteuid())
                .message()
                .find("holds 31 bytes"),
            std::string::npos);
  EXPECT_NE(LoadApprovalKey(dir_ + "/missing", &key, geteuid()).message().find("cannot read"),
            std::string::npos);
  EXPECT_TRUE(LoadApprovalKey(dir_, &key, geteuid()).code() == base::Code::INTERNAL);
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
  EXPECT_TRUE(CreateApprovalKey(path).code() == base::Code::INTERNAL);  // never overwrites
}

}  // namespace
}  // namespace crigate::shim
