#include "proc_files.h"

#include <gtest/gtest.h>

namespace crigate::monitor {
namespace {

TEST(ParseProcStatCpu, BusyExcludesIdleAndIowait) {
  std::optional<CpuTimes> times =
      ParseProcStatCpu("cpu  1000 20 300 8000 100 10 5 0 0 0\ncpu0 500 10 150 4000 50 5 3 0 0 0\n");
  ASSERT_TRUE(times);
  EXPECT_EQ(times->total, 1000u + 20 + 300 + 8000 + 100 + 10 + 5 + 0);
  EXPECT_EQ(times->busy, 1000u + 20 + 300 + 10 + 5);
}

TEST(ParseProcStatCpu, AcceptsOldKernelsWithEightFields) {
  EXPECT_TRUE(ParseProcStatCpu("cpu  1 2 3 4 5 6 7 8\n"));
}

TEST(ParseProcStatCpu, RejectsMalformed) {
  EXPECT_EQ(ParseProcStatCpu(""), std::nullopt);
  EXPECT_EQ(ParseProcStatCpu("cpu0 1 2 3 4 5 6 7 8\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatCpu("cpu  1 2 3\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatCpu("cpu  1 2 x 4 5 6 7 8\n"), std::nullopt);
}

TEST(ParseMeminfo, ReadsTotalAndAvailableInBytes) {
  std::optional<MemInfo> memory = ParseMeminfo(
      "MemTotal:        2000000 kB\nMemFree:          500000 kB\nMemAvailable:    1500000 kB\n");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->total_bytes, 2000000u * 1024);
  EXPECT_EQ(memory->available_bytes, 1500000u * 1024);
}

TEST(ParseMeminfo, RejectsMissingOrMalformed) {
  EXPECT_EQ(ParseMeminfo("MemTotal:        2000000 kB\n"), std::nullopt);
  EXPECT_EQ(ParseMeminfo("MemTotal: x kB\nMemAvailable: 1 kB\n"), std::nullopt);
  EXPECT_EQ(ParseMeminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"), std::nullopt);
  EXPECT_EQ(ParseMeminfo(""), std::nullopt);
}

}  // namespace
}  // namespace crigate::monitor
