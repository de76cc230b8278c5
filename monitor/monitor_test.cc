// The daemon's entry point on this host, with containerd unreachable: the
// watchdog is built, starts, survives failed lookups and stops cleanly.
#include "monitor.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

namespace crigate::monitor {
namespace {

class NoReports final : public ActionReporter {
 public:
  void Report(const StopAction&) override { ADD_FAILURE() << "nothing may be stopped"; }
};

TEST(CreateHostWatchdog, RunsOnThisHostWithoutARuntime) {
  auto channel = grpc::CreateChannel("unix:/tmp/crigate-monitor-test-no-such.sock",
                                     grpc::InsecureChannelCredentials());
  std::mutex mu;
  std::vector<std::string> warnings;
  MonitorConfig config;
  config.interval = std::chrono::milliseconds(50);
  auto created = CreateHostWatchdog(config, channel, std::make_shared<NoReports>(),
                                    [&](std::string_view message) {
                                      std::lock_guard<std::mutex> lock(mu);
                                      warnings.emplace_back(message);
                                    });
  ASSERT_TRUE(created.ok()) << created.error();
  std::unique_ptr<Watchdog> watchdog = std::move(created).value();
  ASSERT_TRUE(watchdog->Start());
  watchdog->Register("0123456789abcdef");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  watchdog->WaitIdle();
  watchdog->Stop();
  watchdog->Stop();  // idempotent
  EXPECT_GT(watchdog->stats().ticks, 1u);
  EXPECT_EQ(watchdog->stats().watched, 0u);
  EXPECT_EQ(watchdog->stats().registrations_failed, 1u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(warnings.size(), 2u);  // the resync and the lookup
  EXPECT_NE(warnings[0].find("resync"), std::string::npos) << warnings[0];
}

TEST(CreateHostWatchdog, DisabledMonitorIsBuiltAndDoesNothing) {
  auto channel = grpc::CreateChannel("unix:/tmp/crigate-monitor-test-no-such.sock",
                                     grpc::InsecureChannelCredentials());
  MonitorConfig config;
  config.enabled = false;
  auto created = CreateHostWatchdog(config, channel, std::make_shared<NoReports>(), nullptr);
  ASSERT_TRUE(created.ok()) << created.error();
  std::unique_ptr<Watchdog> watchdog = std::move(created).value();
  EXPECT_TRUE(watchdog->Start());
  watchdog->Register("0123456789abcdef");
  watchdog->WaitIdle();
  EXPECT_EQ(watchdog->stats().ticks, 0u);
}

}  // namespace
}  // namespace crigate::monitor
