#include "policy/base/time.h"

#include <gtest/gtest.h>

#include <thread>

#include "policy/base/fake_clock.h"

namespace crigate::base {
namespace {

using namespace std::chrono_literals;

TEST(FormatUtc, WholeSecondsAndMillis) {
  const WallTime t = FromUnixSeconds(1'790'000'000) + 123ms;
  EXPECT_EQ(FormatUtc(t), "2026-09-21T14:13:20Z");
  EXPECT_EQ(FormatUtc(t, true), "2026-09-21T14:13:20.123Z");
}

TEST(FormatUtc, BeforeTheEpochRoundsDown) {
  EXPECT_EQ(FormatUtc(WallTime(-1ms), true), "1969-12-31T23:59:59.999Z");
}

TEST(UnixSeconds, RoundTripAndClampInsteadOfOverflowing) {
  EXPECT_EQ(ToUnixSeconds(FromUnixSeconds(1'790'000'000)), 1'790'000'000);
  // Far beyond what system_clock's nanoseconds hold: clamped, no UB.
  EXPECT_GT(ToUnixSeconds(FromUnixSeconds(INT64_MAX)), 9'000'000'000);
  EXPECT_LT(ToUnixSeconds(FromUnixSeconds(INT64_MIN)), -9'000'000'000);
}

TEST(FakeClock, WallAndSteadyMoveTogether) {
  FakeClock clock(1000);
  const WallTime wall = clock.Now();
  const SteadyTime steady = clock.Steady();
  EXPECT_EQ(ToUnixSeconds(wall), 1000);
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - wall, 1500ms);
  EXPECT_EQ(clock.Steady() - steady, 1500ms);
  clock.Set(50);
  EXPECT_EQ(ToUnixSeconds(clock.Now()), 50);
}

TEST(SystemClock, IsTheMachinesClock) {
  const auto before = std::chrono::system_clock::now();
  const WallTime now = SystemClock::Instance().Now();
  EXPECT_LE(before, now);
  const SteadyTime a = SystemClock::Instance().Steady();
  std::this_thread::sleep_for(1ms);
  EXPECT_LT(a, SystemClock::Instance().Steady());
}

}  // namespace
}  // namespace crigate::base
