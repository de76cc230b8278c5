#include "cri/peer_registry.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace crigate::cri {
namespace {

TEST(ParsePeerFd, AcceptsOnlyFdColonDigits) {
  EXPECT_EQ(ParsePeerFd("fd:7"), 7);
  EXPECT_EQ(ParsePeerFd("fd:123456"), 123456);
  for (const char* bad : {"", "fd:", "fd:-1", "fd:+1", "fd:1a", "fd: 1", "unix:", "ipv4:1.2.3.4:5",
                          "FD:1", "fd:1234567890", "xfd:1"}) {
    EXPECT_FALSE(ParsePeerFd(bad).has_value()) << bad;
  }
}

TEST(ReadPeerCredentials, ReportsOwnProcessOnSocketPair) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  auto caller = ReadPeerCredentials(sv[0]);
  ASSERT_TRUE(caller.has_value());
  EXPECT_TRUE(caller->known);
  EXPECT_EQ(caller->pid, getpid());
  EXPECT_EQ(caller->uid, getuid());
  EXPECT_EQ(caller->gid, getgid());
  close(sv[0]);
  close(sv[1]);
}

TEST(ReadPeerCredentials, SeesTheConnectingProcessNotTheListener) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  // SO_PEERCRED of a socketpair is fixed at creation; to see another process
  // the peer must connect from it. Use a listening socket and a child.
  close(sv[0]);
  close(sv[1]);
  char path[] = "/tmp/crigate-peer-XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  std::string sock = std::string(path) + "/s";
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, sock.c_str());
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  pid_t child = fork();
  if (child == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    char b;
    ssize_t r = read(c, &b, 1);  // wait until the parent has looked
    (void)r;
    _exit(0);
  }
  int conn = accept(lfd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  auto caller = ReadPeerCredentials(conn);
  ASSERT_TRUE(caller.has_value());
  EXPECT_EQ(caller->pid, child);
  EXPECT_NE(caller->pid, getpid());
  close(conn);
  int status = 0;
  waitpid(child, &status, 0);
  close(lfd);
  unlink(sock.c_str());
  rmdir(path);
}

TEST(ReadPeerCredentials, FailsOnNonSocket) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_FALSE(ReadPeerCredentials(p[0]).has_value());
  close(p[0]);
  close(p[1]);
}

TEST(PeerRegistry, LooksUpByPeerStringAndOverwritesOnReuse) {
  PeerRegistry registry;
  policy::Caller a{100, 1000, 1000, true};
  policy::Caller b{200, 0, 0, true};
  registry.Put(9, a);
  EXPECT_EQ(registry.Lookup("fd:9").uid, 1000u);
  EXPECT_EQ(registry.Lookup("fd:9").pid, 100);
  registry.Put(9, b);  // the kernel reused fd 9 for a new connection
  EXPECT_EQ(registry.Lookup("fd:9").uid, 0u);
  EXPECT_EQ(registry.Lookup("fd:9").pid, 200);
}

TEST(PeerRegistry, UnknownPeersAreNotKnownCallers) {
  PeerRegistry registry;
  registry.Put(3, {1, 0, 0, true});
  EXPECT_FALSE(registry.Lookup("fd:4").known);
  EXPECT_FALSE(registry.Lookup("unix:").known);
  EXPECT_FALSE(registry.Lookup("fd:3x").known);
}

TEST(PeerRegistry, ConcurrentReadersAndWritersAgree) {
  PeerRegistry registry;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        int fd = t * 1000 + (i % 50);
        registry.Put(fd, {fd, static_cast<uid_t>(fd), static_cast<gid_t>(fd), true});
        policy::Caller c = registry.Get(fd);
        if (c.uid != static_cast<uid_t>(fd)) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace crigate::cri
