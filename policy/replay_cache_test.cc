#include "policy/replay_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace crigate::policy {
namespace {

const TimePoint kT0 = FromUnixSeconds(1'790'000'000);
using std::chrono::seconds;
using Outcome = ReplayCache::Outcome;

TEST(ReplayCacheTest, AcceptsOnceUntilExpiry) {
  ReplayCache cache(10);
  EXPECT_EQ(cache.Accept("a", kT0 + seconds(60), kT0), Outcome::kAccepted);
  EXPECT_EQ(cache.Accept("a", kT0 + seconds(60), kT0 + seconds(59)), Outcome::kReplayed);
  EXPECT_EQ(cache.Accept("b", kT0 + seconds(60), kT0), Outcome::kAccepted);
  // Past its expiry the entry is dropped (the token itself is then refused as expired).
  EXPECT_EQ(cache.Accept("a", kT0 + seconds(200), kT0 + seconds(61)), Outcome::kAccepted);
  EXPECT_EQ(cache.size(), 1u);  // b expired too
}

TEST(ReplayCacheTest, FullCacheRefusesInsteadOfForgetting) {
  ReplayCache cache(2);
  EXPECT_EQ(cache.Accept("a", kT0 + seconds(60), kT0), Outcome::kAccepted);
  EXPECT_EQ(cache.Accept("b", kT0 + seconds(90), kT0), Outcome::kAccepted);
  EXPECT_EQ(cache.Accept("c", kT0 + seconds(60), kT0), Outcome::kFull);
  // Nothing was evicted: a is still a replay.
  EXPECT_EQ(cache.Accept("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  // Once a expires there is room again.
  EXPECT_EQ(cache.Accept("c", kT0 + seconds(120), kT0 + seconds(61)), Outcome::kAccepted);
  EXPECT_EQ(cache.Accept("b", kT0 + seconds(90), kT0 + seconds(61)), Outcome::kReplayed);
}

TEST(ReplayCacheTest, ConcurrentUsesOfOneKeyAcceptExactlyOne) {
  ReplayCache cache(1000);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (cache.Accept("key-" + std::to_string(i), kT0 + seconds(60), kT0) ==
            Outcome::kAccepted) {
          accepted.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 200);
  EXPECT_EQ(cache.size(), 200u);
}

}  // namespace
}  // namespace crigate::policy
