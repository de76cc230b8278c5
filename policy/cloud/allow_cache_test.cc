#include "policy/cloud/allow_cache.h"

#include <gtest/gtest.h>

#include "policy/base/fake_clock.h"
#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using namespace std::chrono_literals;

TEST(AllowCache, HitUntilTtl) {
  base::FakeClock now;
  AllowCache cache(5000ms, 10, now);
  EXPECT_FALSE(cache.Find("k"));
  cache.Insert("k", "d1");
  EXPECT_EQ(cache.Find("k"), "d1");
  now.Advance(4999ms);
  EXPECT_EQ(cache.Find("k"), "d1");
  now.Advance(1ms);
  EXPECT_FALSE(cache.Find("k"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(AllowCache, BoundedOldestFirst) {
  base::FakeClock now;
  AllowCache cache(5000ms, 3, now);
  for (const char* k : {"a", "b", "c", "d"}) {
    cache.Insert(k, k);
    now.Advance(1ms);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Find("a"));
  EXPECT_EQ(cache.Find("b"), "b");
  EXPECT_EQ(cache.Find("d"), "d");
}

TEST(AllowCache, ReinsertRefreshes) {
  base::FakeClock now;
  AllowCache cache(100ms, 2, now);
  cache.Insert("a", "1");
  now.Advance(60ms);
  cache.Insert("a", "2");
  now.Advance(60ms);
  EXPECT_EQ(cache.Find("a"), "2");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AllowCache, ExpiredEntriesMakeRoom) {
  base::FakeClock now;
  AllowCache cache(100ms, 2, now);
  cache.Insert("a", "a");
  cache.Insert("b", "b");
  now.Advance(200ms);
  cache.Insert("c", "c");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AllowCache, ZeroTtlOrSizeKeepsNothing) {
  AllowCache no_ttl(0ms, 10);
  no_ttl.Insert("a", "a");
  EXPECT_FALSE(no_ttl.Find("a"));
  AllowCache no_size(1000ms, 0);
  no_size.Insert("a", "a");
  EXPECT_FALSE(no_size.Find("a"));
}

TEST(AllowCache, ClearForgets) {
  AllowCache cache(1000ms, 10);
  cache.Insert("a", "a");
  cache.Clear();
  EXPECT_FALSE(cache.Find("a"));
}

}  // namespace
}  // namespace crigate::cloud
