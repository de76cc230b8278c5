#include "policy/base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

namespace crigate::base {
namespace {

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/crigate-files-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(Files, ReadsAWholeFileWithinItsLimit) {
  auto read = ReadBoundedFile(Write("a", "hello"), {5});
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(*read, "hello");
}

TEST_F(Files, RefusesAFileLargerThanTheLimit) {
  auto read = ReadBoundedFile(Write("a", "hello!"), {5});
  EXPECT_EQ(read.code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(read.error().find("larger than 5 bytes"), std::string::npos) << read.error();
}

TEST_F(Files, AMissingFileIsNotFoundAndNamed) {
  auto read = ReadBoundedFile(dir_ + "/nope");
  EXPECT_EQ(read.code(), Code::NOT_FOUND);
  EXPECT_EQ(read.error(), "cannot read " + dir_ + "/nope: No such file or directory");
}

TEST_F(Files, ADirectoryOrDeviceIsNotAFile) {
  EXPECT_EQ(ReadBoundedFile(dir_).code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(ReadBoundedFile("/dev/zero").code(), Code::INVALID_ARGUMENT);
}

TEST_F(Files, NoFollowRefusesASymlink) {
  const std::string target = Write("target", "x");
  ASSERT_EQ(symlink(target.c_str(), (dir_ + "/link").c_str()), 0);
  EXPECT_TRUE(ReadBoundedFile(dir_ + "/link").ok());
  ReadLimits limits;
  limits.follow_symlinks = false;
  EXPECT_FALSE(ReadBoundedFile(dir_ + "/link", limits).ok());
}

TEST(ErrnoText, WordsTheError) { EXPECT_EQ(ErrnoText(ENOENT), "No such file or directory"); }

TEST_F(Files, ReadsAnOwnerOnlySecret) {
  auto secret = ReadSecretFile(Write("key", "0123456789abcdef\n"), {16, 64, geteuid()});
  ASSERT_TRUE(secret.ok()) << secret.error();
  EXPECT_EQ(secret->bytes(), "0123456789abcdef\n");
  secret->TrimRight();
  EXPECT_EQ(secret->bytes(), "0123456789abcdef");
}

TEST_F(Files, RefusesASecretOthersCanRead) {
  auto secret = ReadSecretFile(Write("key", "0123456789abcdef", 0640), {16, 64, geteuid()});
  EXPECT_EQ(secret.code(), Code::PERMISSION_DENIED);
  EXPECT_NE(secret.error().find("has mode 0640"), std::string::npos) << secret.error();
  EXPECT_NE(secret.error().find("chmod 600"), std::string::npos) << secret.error();
}

TEST_F(Files, RefusesASecretOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string path = Write("key", "0123456789abcdef");
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  auto secret = ReadSecretFile(path, {16, 64, 0});
  EXPECT_EQ(secret.code(), Code::PERMISSION_DENIED);
  EXPECT_NE(secret.error().find("owned by uid 65534"), std::string::npos) << secret.error();
}

TEST_F(Files, RefusesASecretOfTheWrongSize) {
  EXPECT_EQ(ReadSecretFile(Write("short", "0123"), {16, 64, geteuid()}).code(),
            Code::INVALID_ARGUMENT);
  EXPECT_EQ(ReadSecretFile(Write("long", std::string(65, 'k')), {16, 64, geteuid()}).code(),
            Code::INVALID_ARGUMENT);
}

TEST(Secret, MovingLeavesNothingBehind) {
  Secret a(std::string(40, 'k'));
  Secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(b.bytes(), std::string(40, 'k'));
  Secret c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.bytes().size(), 40u);
}

TEST_F(Files, WriteFileAtomicallyReplacesWithTheModeAskedAndLeavesNoTmp) {
  const std::string path = Write("state", "old");
  const mode_t old_mask = umask(077);  // the mode is the caller's, not the umask's
  Status written = WriteFileAtomically(path, "new\n", 0644);
  umask(old_mask);
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_EQ(*ReadBoundedFile(path), "new\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
}

TEST_F(Files, WriteFileAtomicallyIntoAMissingDirectoryFailsNamingIt) {
  Status written = WriteFileAtomically(dir_ + "/gone/state", "x", 0600);
  EXPECT_EQ(written.code(), Code::INTERNAL);
  EXPECT_NE(written.message().find(dir_ + "/gone: cannot open"), std::string::npos)
      << written.message();
}

TEST_F(Files, ReadDecimalFileTakesOneWholeNumber) {
  EXPECT_EQ(*ReadDecimalFile(Write("a", "42\n")), 42u);
  EXPECT_EQ(*ReadDecimalFile(Write("b", "18446744073709551615")), UINT64_MAX);
  for (const char* bad : {"", "\n", "4 2", " 42", "+42", "-1", "42\n\n", "18446744073709551616"}) {
    Result<uint64_t> r = ReadDecimalFile(Write("c", bad));
    EXPECT_EQ(r.code(), Code::INVALID_ARGUMENT) << "'" << bad << "'";
  }
  EXPECT_EQ(ReadDecimalFile(dir_ + "/absent").code(), Code::NOT_FOUND);
}

}  // namespace
}  // namespace crigate::base
