// HostCgroupOpener and ProcNodeReader: on fixtures (v1 hybrid and v2), and
// on this machine's real cgroups (v1 hybrid here), including a cgroup that
// vanishes between two samples.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "cgroup_v1_reader.h"
#include "host_cgroup_opener.h"
#include "node_reader.h"
#include "testing.h"

namespace crigate::monitor {
namespace {

using testing::FixtureV1Mounts;
using testing::kTestdata;

CgroupMounts FixtureV2Mounts() {
  return CgroupMounts::FromMountinfo("1 0 0:1 / " + kTestdata + "/v2 rw - cgroup2 cgroup2 rw\n");
}

TEST(HostCgroupOpener, HybridFixtureFromProcPidCgroup) {
  HostCgroupOpener opener(CgroupMode::kHybrid, FixtureV1Mounts(), kTestdata + "/proc");
  auto reader = opener.Open({4242, ""});
  ASSERT_TRUE(reader.ok()) << reader.error();
  Sample sample = (*reader)->Read();
  EXPECT_EQ(sample.cpu_usage_usec, 3000000u);
  EXPECT_EQ(sample.memory_current, 52428800u);
  EXPECT_EQ(sample.pids_max, 64u);
  EXPECT_TRUE(sample.cpu_pressure);
}

TEST(HostCgroupOpener, UnifiedFixtureFromPidThenCgroupsPath) {
  HostCgroupOpener opener(CgroupMode::kUnified, FixtureV2Mounts(), kTestdata + "/proc");
  auto by_pid = opener.Open({4343, ""});
  ASSERT_TRUE(by_pid.ok()) << by_pid.error();
  EXPECT_EQ((*by_pid)->Read().cpu_usage_usec, 2500000u);
  // No such pid (exited): the spec's cgroupsPath is used instead.
  auto by_path = opener.Open({777777, "/k8s.io/limited"});
  ASSERT_TRUE(by_path.ok()) << by_path.error();
  EXPECT_EQ((*by_path)->Read().pids_max, 100u);
}

TEST(HostCgroupOpener, NothingToFindIsAnErrorNotACrash) {
  HostCgroupOpener opener(CgroupMode::kUnified, FixtureV2Mounts(), kTestdata + "/proc");
  auto nothing = opener.Open({0, ""});
  EXPECT_EQ(nothing.code(), base::Code::NOT_FOUND);
  EXPECT_FALSE(nothing.error().empty());
  auto gone = opener.Open({0, "/k8s.io/gone-already"});
  EXPECT_EQ(gone.code(), base::Code::NOT_FOUND);
  EXPECT_NE(gone.error().find("gone-already"), std::string::npos) << gone.error();
  HostCgroupOpener unavailable(CgroupMode::kUnavailable, CgroupMounts(), kTestdata + "/proc");
  EXPECT_EQ(unavailable.Open({4343, ""}).code(), base::Code::UNAVAILABLE);
}

TEST(ProcNodeReader, ReadsFixtureProc) {
  ProcNodeReader node(kTestdata + "/proc");
  EXPECT_EQ(node.capacity().memory_bytes, 2000000u * 1024);
  EXPECT_EQ(node.capacity().task_limit, 15000u);  // min(pid_max, threads-max)
  EXPECT_GE(node.capacity().cpus, 1);
  NodeSample sample = node.Read();
  ASSERT_TRUE(sample.cpu_ok);
  EXPECT_EQ(sample.cpu.busy, 1335u);
  ASSERT_TRUE(sample.memory_ok);
  EXPECT_EQ(sample.memory.available_bytes, 1500000u * 1024);
}

TEST(ProcNodeReader, ReadsThisHost) {
  ProcNodeReader node;
  EXPECT_GT(node.capacity().memory_bytes, 0u);
  EXPECT_GT(node.capacity().task_limit, 0u);
  NodeSample sample = node.Read();
  EXPECT_TRUE(sample.cpu_ok);
  EXPECT_TRUE(sample.memory_ok);
}

void BurnCpu(std::chrono::milliseconds duration) {
  auto end = std::chrono::steady_clock::now() + duration;
  volatile uint64_t sink = 0;
  while (std::chrono::steady_clock::now() < end) sink = sink + 1;
}

// The real thing on this machine: our own process's cgroups, found through
// /proc/self/cgroup and the libcgroup/mountinfo mount table.
TEST(HostCgroupOpener, ReadsOwnProcessOnThisHost) {
  std::unique_ptr<HostCgroupOpener> opener = HostCgroupOpener::ForThisHost();
  if (opener->mode() == CgroupMode::kUnavailable) GTEST_SKIP() << "no cgroups here";
  auto opened = opener->Open({static_cast<int>(::getpid()), ""});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<CgroupReader> reader = std::move(*opened);
  if (opener->mode() != CgroupMode::kUnified) {
    EXPECT_NE(dynamic_cast<CgroupV1Reader*>(reader.get()), nullptr);
  }
  Sample before = reader->Read();
  ASSERT_FALSE(before.gone);
  ASSERT_TRUE(before.cpu_ok) << reader->Describe();
  ASSERT_TRUE(before.memory_ok) << reader->Describe();
  EXPECT_GT(before.memory_current, 0u);
  BurnCpu(std::chrono::milliseconds(200));
  Sample after = reader->Read();
  ASSERT_TRUE(after.cpu_ok);
  // At least most of our 200 ms (the cgroup may hold more than us).
  EXPECT_GE(after.cpu_usage_usec - before.cpu_usage_usec, 150000u);
}

// A real v1 cgroup removed between samples (the container exited): the open
// descriptors then fail with ENODEV and the sample reads as gone. Also one
// controller's directory removed alone, i.e. mid-sample.
TEST(HostCgroupOpener, RealCgroupVanishingIsGone) {
  std::unique_ptr<HostCgroupOpener> opener = HostCgroupOpener::ForThisHost();
  if (opener->mode() != CgroupMode::kHybrid && opener->mode() != CgroupMode::kLegacy) {
    GTEST_SKIP() << "needs v1 hierarchies";
  }
  const std::string name = "/crigate-monitor-test-" + std::to_string(::getpid());
  // Removed again whatever happens below (rmdir of a removed one just fails).
  struct Cleanup {
    std::vector<std::string> directories;
    ~Cleanup() {
      for (const std::string& directory : directories) ::rmdir(directory.c_str());
    }
  } cleanup;
  std::vector<std::string>& made = cleanup.directories;
  for (const char* controller : {"cpuacct", "memory"}) {
    const CgroupMount* mount = opener->mounts().V1(controller);
    if (mount == nullptr) GTEST_SKIP() << controller << " not mounted";
    std::string directory = CgroupMounts::Directory(*mount, name);
    if (::mkdir(directory.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create " << directory;
    made.push_back(directory);
  }
  auto opened = opener->Open({0, name});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<CgroupReader> reader = std::move(*opened);
  Sample alive = reader->Read();
  EXPECT_FALSE(alive.gone);
  EXPECT_TRUE(alive.cpu_ok);
  EXPECT_TRUE(alive.memory_ok);

  ASSERT_EQ(::rmdir(made[1].c_str()), 0);  // memory first: cpu still reads
  EXPECT_TRUE(reader->Read().gone);
  ASSERT_EQ(::rmdir(made[0].c_str()), 0);
  EXPECT_TRUE(reader->Read().gone);
  EXPECT_TRUE(reader->Read().gone);  // and stays so, without a crash
  // Opening it now finds nothing.
  EXPECT_EQ(opener->Open({0, name}).status().code(), base::Code::NOT_FOUND);
}

}  // namespace
}  // namespace crigate::monitor
