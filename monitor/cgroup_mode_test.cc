#include "cgroup_mode.h"

#include <gtest/gtest.h>
#include <linux/magic.h>

#include <fstream>
#include <sstream>
#include <string>

namespace crigate::monitor {
namespace {

constexpr long kTmpfs = TMPFS_MAGIC;
constexpr long kCgroup1 = CGROUP_SUPER_MAGIC;
constexpr long kCgroup2 = CGROUP2_SUPER_MAGIC;

TEST(DecideCgroupMode, FollowsContainerdsRule) {
  EXPECT_EQ(DecideCgroupMode(kCgroup2, std::nullopt), CgroupMode::kUnified);
  EXPECT_EQ(DecideCgroupMode(kTmpfs, kCgroup2), CgroupMode::kHybrid);
  EXPECT_EQ(DecideCgroupMode(kTmpfs, kCgroup1), CgroupMode::kLegacy);
  EXPECT_EQ(DecideCgroupMode(kTmpfs, std::nullopt), CgroupMode::kLegacy);
  EXPECT_EQ(DecideCgroupMode(std::nullopt, std::nullopt), CgroupMode::kUnavailable);
  // The root decides first: cgroup2 at the root is unified whatever "unified" is.
  EXPECT_EQ(DecideCgroupMode(kCgroup2, kCgroup2), CgroupMode::kUnified);
}

TEST(DetectCgroupMode, FixtureDirectoryIsLegacyAndMissingRootUnavailable) {
  // A plain directory is not cgroup2, and has no cgroup2 "unified" below it.
  EXPECT_EQ(DetectCgroupMode(CRIGATE_MONITOR_TESTDATA "/v1"), CgroupMode::kLegacy);
  EXPECT_EQ(DetectCgroupMode(CRIGATE_MONITOR_TESTDATA "/no-such-dir"), CgroupMode::kUnavailable);
}

TEST(DetectCgroupMode, ThisHostAgreesWithItsMountTable) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::stringstream text;
  text << mountinfo.rdbuf();
  std::string table = text.str();
  bool root_is_cgroup2 = table.find(" /sys/fs/cgroup rw") != std::string::npos &&
                         table.find(" - cgroup2 ") != std::string::npos &&
                         table.find(" /sys/fs/cgroup/unified ") == std::string::npos &&
                         table.find(" - cgroup cgroup ") == std::string::npos;
  bool unified_is_cgroup2 = table.find(" /sys/fs/cgroup/unified ") != std::string::npos;
  CgroupMode mode = DetectCgroupMode();
  if (root_is_cgroup2) {
    EXPECT_EQ(mode, CgroupMode::kUnified);
  } else if (unified_is_cgroup2) {
    EXPECT_EQ(mode, CgroupMode::kHybrid);  // this project's machines (DESIGN.md)
  } else {
    EXPECT_EQ(mode, CgroupMode::kLegacy);
  }
  EXPECT_STREQ(CgroupModeName(CgroupMode::kHybrid), "hybrid");
}

}  // namespace
}  // namespace crigate::monitor
