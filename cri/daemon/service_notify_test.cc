#include "cri/daemon/service_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

namespace crigate::cri {
namespace {

using std::chrono::milliseconds;

// Records what the daemon would tell systemd.
class RecordingNotifier final : public ServiceNotifier {
 public:
  explicit RecordingNotifier(std::vector<std::string>* sent) : sent_(sent) {}
  void Send(const std::string& state) override { sent_->push_back(state); }

 private:
  std::vector<std::string>* sent_;
};

// The datagram socket systemd would own, at a path of the test's.
class NotifySocket {
 public:
  NotifySocket() {
    char dir_template[] = "/tmp/crigate-notify-XXXXXX";
    dir_ = mkdtemp(dir_template);
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  // The next datagram, or "" when none arrives within the timeout.
  std::string Receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SystemdNotifier, SendsTheStateToNotifySocket) {
  NotifySocket socket;
  ASSERT_TRUE(socket.bound());
  ASSERT_EQ(setenv("NOTIFY_SOCKET", socket.path().c_str(), 1), 0);
  auto notifier = MakeSystemdNotifier();
  notifier->Send("READY=1\nSTATUS=serving");
  notifier->Send("STOPPING=1");
  EXPECT_EQ(socket.Receive(), "READY=1\nSTATUS=serving");
  // The variable stays: the daemon notifies more than once.
  EXPECT_EQ(socket.Receive(), "STOPPING=1");
  unsetenv("NOTIFY_SOCKET");
}

TEST(SystemdNotifier, SendsNothingWithoutNotifySocket) {
  NotifySocket socket;
  ASSERT_TRUE(socket.bound());
  unsetenv("NOTIFY_SOCKET");
  MakeSystemdNotifier()->Send("READY=1");
  EXPECT_EQ(socket.Receive(200), "");
}

TEST(ServiceStatus, ReadyOnlyOnceTheBackendAnswers) {
  std::vector<std::string> sent;
  std::atomic<int> waits{0};
  {
    ServiceStatus status(std::make_unique<RecordingNotifier>(&sent), "unix:///c.sock");
    status.WaitThenReady([&](milliseconds) { return ++waits >= 3; }, "serving /run/x.sock",
                         milliseconds(5));
    for (int i = 0; i < 400 && !status.ready(); ++i) usleep(5000);
    ASSERT_TRUE(status.ready());
    status.Stopping();
  }
  EXPECT_EQ(waits.load(), 3);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0], "STATUS=listening; waiting for containerd at unix:///c.sock");
  EXPECT_EQ(sent[1], "READY=1\nSTATUS=serving /run/x.sock");
  EXPECT_EQ(sent[2], "STOPPING=1\nSTATUS=draining in-flight calls");
}

TEST(ServiceStatus, NeverReadyWhenStoppedBeforeTheBackendAnswers) {
  std::vector<std::string> sent;
  std::atomic<int> waits{0};
  ServiceStatus status(std::make_unique<RecordingNotifier>(&sent), "unix:///c.sock");
  status.WaitThenReady(
      [&](milliseconds) {
        ++waits;
        return false;
      },
      "serving", milliseconds(5));
  while (waits < 2) usleep(1000);
  status.Stopping();
  EXPECT_FALSE(status.ready());
  for (const auto& s : sent) EXPECT_EQ(s.find("READY=1"), std::string::npos) << s;
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back(), "STOPPING=1\nSTATUS=draining in-flight calls");
}

TEST(ServiceStatus, ReloadIsBracketedOnlyOnceReady) {
  std::vector<std::string> sent;
  ServiceStatus status(std::make_unique<RecordingNotifier>(&sent), "unix:///c.sock");
  // Still starting: a reload must not announce READY=1 for it.
  status.Reloading();
  status.Reloaded(true);
  EXPECT_TRUE(sent.empty());

  status.WaitThenReady([](milliseconds) { return true; }, "serving", milliseconds(5));
  for (int i = 0; i < 400 && !status.ready(); ++i) usleep(5000);
  ASSERT_TRUE(status.ready());
  sent.clear();
  status.Reloading();
  status.Reloaded(true);
  status.Reloading();
  status.Reloaded(false);
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[0], "RELOADING=1\nSTATUS=reloading the config");
  EXPECT_EQ(sent[1], "READY=1\nSTATUS=serving");
  EXPECT_EQ(sent[2], "RELOADING=1\nSTATUS=reloading the config");
  EXPECT_EQ(sent[3], "READY=1\nSTATUS=serving (last reload refused; the previous config stays)");
}

}  // namespace
}  // namespace crigate::cri
