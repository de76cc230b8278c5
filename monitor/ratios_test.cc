#include "ratios.h"

#include <gtest/gtest.h>

namespace crigate::monitor {
namespace {

TEST(CpuCapacity, QuotaThenCpusetThenNode) {
  EXPECT_DOUBLE_EQ(CpuCapacity(0.5, 0, 4), 0.5);
  EXPECT_DOUBLE_EQ(CpuCapacity(0, 2, 4), 2.0);
  EXPECT_DOUBLE_EQ(CpuCapacity(0, 0, 4), 4.0);
  EXPECT_DOUBLE_EQ(CpuCapacity(3, 2, 4), 2.0);  // both bind: the smaller
  EXPECT_DOUBLE_EQ(CpuCapacity(8, 0, 4), 4.0);  // a quota beyond the node
  EXPECT_DOUBLE_EQ(CpuCapacity(0, 0, 0), 1.0);
}

TEST(CpuRatio, DeltaOverIntervalTimesCpus) {
  // 1.8 s of CPU in 1 s on 2 CPUs.
  EXPECT_DOUBLE_EQ(*CpuRatio(1000000, 2800000, 1.0, 2.0), 0.9);
  // Half a CPU's quota fully used.
  EXPECT_DOUBLE_EQ(*CpuRatio(0, 500000, 1.0, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(*CpuRatio(5, 5, 1.0, 1.0), 0.0);
}

TEST(CpuRatio, NoRatioFromBadInputs) {
  EXPECT_EQ(CpuRatio(10, 5, 1.0, 1.0), std::nullopt);  // counter went back (new cgroup)
  EXPECT_EQ(CpuRatio(0, 5, 0.0, 1.0), std::nullopt);
  EXPECT_EQ(CpuRatio(0, 5, 1.0, 0.0), std::nullopt);
}

TEST(MemoryRatio, LimitOrNodeMemory) {
  EXPECT_DOUBLE_EQ(*MemoryRatio(512, 1024, 4096), 0.5);
  EXPECT_DOUBLE_EQ(*MemoryRatio(1024, kUnlimited, 4096), 0.25);
  EXPECT_DOUBLE_EQ(*MemoryRatio(1024, 8192, 4096), 0.25);  // a limit above the node
  EXPECT_DOUBLE_EQ(*MemoryRatio(1024, 2048, 0), 0.5);
  EXPECT_EQ(MemoryRatio(1024, kUnlimited, 0), std::nullopt);
}

TEST(PidsRatio, MaxOrNodeTaskLimit) {
  EXPECT_DOUBLE_EQ(*PidsRatio(90, 100, 30000), 0.9);
  EXPECT_DOUBLE_EQ(*PidsRatio(3000, kUnlimited, 30000), 0.1);
  EXPECT_EQ(PidsRatio(5, kUnlimited, 0), std::nullopt);
}

TEST(ComputeContainerRatios, FirstSampleHasNoCpuRatio) {
  NodeCapacity node{4, 4096, 1000};
  Sample sample;
  sample.cpu_ok = true;
  sample.cpu_usage_usec = 100;
  sample.memory_ok = true;
  sample.memory_current = sample.memory_working_set = 1024;
  sample.pids_ok = true;
  sample.pids_current = 10;
  sample.pids_max = 20;
  ContainerRatios first = ComputeContainerRatios(nullptr, sample, 1.0, node);
  EXPECT_FALSE(first.cpu);
  EXPECT_DOUBLE_EQ(*first.memory, 0.25);
  EXPECT_DOUBLE_EQ(*first.pids, 0.5);

  Sample next = sample;
  next.cpu_usage_usec = 100 + 2000000;  // 2 s over 1 s
  next.cpu_quota_cores = 2;
  ContainerRatios second = ComputeContainerRatios(&sample, next, 1.0, node);
  EXPECT_DOUBLE_EQ(*second.cpu, 1.0);
}

TEST(ComputeContainerRatios, NotOkFieldsGiveNoRatio) {
  NodeCapacity node{4, 4096, 1000};
  Sample empty;
  ContainerRatios ratios = ComputeContainerRatios(&empty, empty, 1.0, node);
  EXPECT_FALSE(ratios.cpu || ratios.memory || ratios.pids);
  ContainerRatios gone = ComputeContainerRatios(nullptr, VanishedSample(), 1.0, node);
  EXPECT_FALSE(gone.cpu || gone.memory || gone.pids);
}

TEST(NodeRatios, FromProcStatAndMeminfo) {
  EXPECT_DOUBLE_EQ(*NodeCpuRatio({100, 1000}, {190, 1100}), 0.9);
  EXPECT_EQ(NodeCpuRatio({100, 1000}, {100, 1000}), std::nullopt);
  EXPECT_DOUBLE_EQ(*NodeMemoryRatio({1000, 250}), 0.75);
  EXPECT_EQ(NodeMemoryRatio({0, 0}), std::nullopt);
  EXPECT_EQ(NodeMemoryRatio({10, 20}), std::nullopt);
}

}  // namespace
}  // namespace crigate::monitor
