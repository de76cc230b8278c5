#include "cri/unix_listener.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "policy/testing.h"

namespace crigate::cri {
namespace {

SocketOptions At(const std::string& path, mode_t mode = 0660) {
  SocketOptions options;
  options.path = path;
  options.mode = mode;
  return options;
}

TEST(UnixListener, ListensWithTheConfiguredModeAndRemovesItsFile) {
  policy::testing::TempDir dir;
  const std::string path = dir.path() + "/sub/dir/crigate.sock";  // parents are made
  {
    auto listener = UnixListener::Open(At(path, 0600));
    ASSERT_TRUE(listener.ok()) << listener.status().message();
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ((*listener)->path(), path);
  }
  struct stat st;
  EXPECT_NE(lstat(path.c_str(), &st), 0) << "the socket file outlived the listener";
}

TEST(UnixListener, APathThatCannotBeASocketAddressIsInvalid) {
  auto empty = UnixListener::Open(At(""));
  EXPECT_EQ(empty.status().code(), base::Code::INVALID_ARGUMENT);
  auto too_long = UnixListener::Open(At("/tmp/" + std::string(sizeof(sockaddr_un::sun_path), 'x')));
  EXPECT_EQ(too_long.status().code(), base::Code::INVALID_ARGUMENT);
  EXPECT_NE(too_long.status().message().find("longer than"), std::string::npos)
      << too_long.status().message();
}

TEST(UnixListener, AFileThatIsNotASocketIsLeftAlone) {
  policy::testing::TempDir dir;
  const std::string path = dir.Write("crigate.sock", "not a socket");
  auto listener = UnixListener::Open(At(path));
  EXPECT_EQ(listener.status().code(), base::Code::FAILED_PRECONDITION);
  EXPECT_NE(listener.status().message().find("is not a socket"), std::string::npos)
      << listener.status().message();
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "not a socket");
}

TEST(UnixListener, ALiveSocketIsAnotherServerAndAStaleOneIsReplaced) {
  policy::testing::TempDir dir;
  const std::string path = dir.path() + "/crigate.sock";
  auto first = UnixListener::Open(At(path));
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = UnixListener::Open(At(path));
  EXPECT_EQ(second.status().code(), base::Code::ALREADY_EXISTS);
  EXPECT_NE(second.status().message().find("already serving"), std::string::npos);
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << "the refused Open removed the live socket's file";

  // A socket file nobody listens on (a crashed crigate's): bound, never listened.
  const std::string stale = dir.path() + "/stale.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, stale.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  auto replaced = UnixListener::Open(At(stale));
  EXPECT_TRUE(replaced.ok()) << replaced.status().message();
}

}  // namespace
}  // namespace crigate::cri
