#include "cgroup_files.h"

#include <gtest/gtest.h>

#include "cgroup_reader.h"

namespace crigate::monitor {
namespace {

TEST(ParseCounter, AcceptsDecimalWithOrWithoutNewline) {
  EXPECT_EQ(ParseCounter("104857600\n"), 104857600u);
  EXPECT_EQ(ParseCounter("0"), 0u);
  EXPECT_EQ(ParseCounter("18446744073709551615\n"), UINT64_MAX);
}

TEST(ParseCounter, RejectsMalformed) {
  for (const char* text : {"", "\n", "abc\n", "-1\n", "12 34\n", " 12\n", "12\n\n", "1e3",
                           "18446744073709551616\n", "+5"}) {
    EXPECT_EQ(ParseCounter(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseSigned, ReadsV1QuotaIncludingMinusOne) {
  EXPECT_EQ(ParseSigned("-1\n"), -1);
  EXPECT_EQ(ParseSigned("50000\n"), 50000);
  EXPECT_EQ(ParseSigned("x\n"), std::nullopt);
  EXPECT_EQ(ParseSigned(""), std::nullopt);
}

TEST(ParseLimit, MaxIsUnlimited) {
  EXPECT_EQ(ParseLimit("max\n"), kUnlimited);
  EXPECT_EQ(ParseLimit("1073741824\n"), 1073741824u);
  EXPECT_EQ(ParseLimit("maximum\n"), std::nullopt);
  EXPECT_EQ(ParseLimit(""), std::nullopt);
}

TEST(ParseV1MemoryLimit, HugeValueIsUnlimited) {
  EXPECT_EQ(ParseV1MemoryLimit("9223372036854771712\n"), kUnlimited);
  EXPECT_EQ(ParseV1MemoryLimit("9223372036854775807\n"), kUnlimited);
  EXPECT_EQ(ParseV1MemoryLimit("268435456\n"), 268435456u);
  EXPECT_EQ(ParseV1MemoryLimit("max\n"), std::nullopt);
}

TEST(ParseCpuStatUsageUsec, FindsUsageLine) {
  EXPECT_EQ(ParseCpuStatUsageUsec("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"),
            2500000u);
  // Order does not matter, extra keys (core_sched, nr_bursts...) are ignored.
  EXPECT_EQ(ParseCpuStatUsageUsec("nr_periods 0\nusage_usec 42\n"), 42u);
}

TEST(ParseCpuStatUsageUsec, RejectsMissingOrMalformedUsage) {
  EXPECT_EQ(ParseCpuStatUsageUsec("user_usec 5\nsystem_usec 5\n"), std::nullopt);
  EXPECT_EQ(ParseCpuStatUsageUsec("usage_usec\n"), std::nullopt);
  EXPECT_EQ(ParseCpuStatUsageUsec("usage_usec x\n"), std::nullopt);
  EXPECT_EQ(ParseCpuStatUsageUsec("usage_usec 5 6\n"), std::nullopt);
  EXPECT_EQ(ParseCpuStatUsageUsec(""), std::nullopt);
  // Truncated mid-key.
  EXPECT_EQ(ParseCpuStatUsageUsec("usage_us"), std::nullopt);
}

TEST(ParseV2CpuMaxCores, QuotaOverPeriod) {
  EXPECT_DOUBLE_EQ(*ParseV2CpuMaxCores("50000 100000\n"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseV2CpuMaxCores("200000 100000\n"), 2.0);
  EXPECT_DOUBLE_EQ(*ParseV2CpuMaxCores("max 100000\n"), 0.0);
  EXPECT_EQ(ParseV2CpuMaxCores("max\n"), std::nullopt);
  EXPECT_EQ(ParseV2CpuMaxCores("50000 0\n"), std::nullopt);
  EXPECT_EQ(ParseV2CpuMaxCores("a b\n"), std::nullopt);
}

TEST(V1QuotaCores, MinusOneIsNoQuota) {
  EXPECT_DOUBLE_EQ(*V1QuotaCores(-1, 100000), 0.0);
  EXPECT_DOUBLE_EQ(*V1QuotaCores(150000, 100000), 1.5);
  EXPECT_EQ(V1QuotaCores(0, 100000), std::nullopt);
  EXPECT_EQ(V1QuotaCores(-5, 100000), std::nullopt);
  EXPECT_EQ(V1QuotaCores(100000, 0), std::nullopt);
}

TEST(ParseCpuListCount, CountsRangesAndSingles) {
  EXPECT_EQ(ParseCpuListCount("0-3\n"), 4);
  EXPECT_EQ(ParseCpuListCount("0\n"), 1);
  EXPECT_EQ(ParseCpuListCount("0-1,4,6-7\n"), 5);
  EXPECT_EQ(ParseCpuListCount("\n"), 0);
  EXPECT_EQ(ParseCpuListCount("3-1\n"), std::nullopt);
  EXPECT_EQ(ParseCpuListCount("0-\n"), std::nullopt);
  EXPECT_EQ(ParseCpuListCount("a\n"), std::nullopt);
  EXPECT_EQ(ParseCpuListCount("0,,1\n"), std::nullopt);
}

TEST(ParsePressure, ReadsSomeAndFull) {
  std::optional<Pressure> pressure = ParsePressure(
      "some avg10=12.50 avg60=3.00 avg300=1.00 total=123456\n"
      "full avg10=0.75 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_TRUE(pressure);
  EXPECT_DOUBLE_EQ(pressure->some_avg10, 12.5);
  EXPECT_DOUBLE_EQ(pressure->full_avg10, 0.75);
  EXPECT_TRUE(pressure->has_full);
}

TEST(ParsePressure, FullLineIsOptional) {
  std::optional<Pressure> pressure =
      ParsePressure("some avg10=0.10 avg60=0.00 avg300=0.00 total=1\n");
  ASSERT_TRUE(pressure);
  EXPECT_DOUBLE_EQ(pressure->some_avg10, 0.1);
  EXPECT_FALSE(pressure->has_full);
}

TEST(ParsePressure, RejectsMalformed) {
  EXPECT_EQ(ParsePressure(""), std::nullopt);
  EXPECT_EQ(ParsePressure("some avg10=garbage\n"), std::nullopt);
  EXPECT_EQ(ParsePressure("full avg10=1.00 avg60=0.00 avg300=0.00 total=0\n"), std::nullopt);
  EXPECT_EQ(ParsePressure("some avg60=1.00\n"), std::nullopt);
  EXPECT_EQ(ParsePressure("other avg10=1.00\n"), std::nullopt);
  EXPECT_EQ(ParsePressure("some avg10=-1.00\n"), std::nullopt);
  EXPECT_EQ(ParsePressure("some avg10=nan\n"), std::nullopt);
}

}  // namespace
}  // namespace crigate::monitor

namespace crigate::monitor {
namespace {

TEST(ParseInactiveFile, V2AndV1TakeTheirOwnKey) {
  const char* v1 = "inactive_file 1000\ntotal_inactive_file 40894464\n";
  EXPECT_EQ(ParseV1InactiveFile(v1), 40894464u);
  EXPECT_EQ(ParseV2InactiveFile(v1), 1000u);
  EXPECT_EQ(ParseV2InactiveFile("anon 1\nfile 2\n"), std::nullopt);        // absent
  EXPECT_EQ(ParseV2InactiveFile("inactive_file twelve\n"), std::nullopt);  // malformed
  EXPECT_EQ(ParseV2InactiveFile("inactive_file 1 2\n"), std::nullopt);
}

TEST(FillMemoryAndPids, TheWorkingSetIsUsageLessInactiveFileNeverBelowZero) {
  Sample sample;
  FillMemoryAndPids(100, 1000, 30, std::nullopt, std::nullopt, &sample);
  EXPECT_EQ(sample.memory_working_set, 70u);
  FillMemoryAndPids(100, 1000, std::nullopt, std::nullopt, std::nullopt, &sample);
  EXPECT_EQ(sample.memory_working_set, 100u);  // memory.stat unreadable: usage
  FillMemoryAndPids(100, 1000, 150, std::nullopt, std::nullopt, &sample);
  EXPECT_EQ(sample.memory_working_set, 0u);
}

}  // namespace
}  // namespace crigate::monitor
