// CgroupV2Reader and CgroupV1Reader on fixture trees (monitor/testdata),
// including malformed, missing and vanished files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cgroup_mounts.h"
#include "cgroup_v1_reader.h"
#include "cgroup_v2_reader.h"
#include "stat_file.h"
#include "testing.h"

namespace crigate::monitor {
namespace {

using testing::FixtureV1Mounts;
using testing::kTestdata;

TEST(CgroupV2Reader, ReadsEveryFile) {
  CgroupV2Reader reader(kTestdata + "/v2/k8s.io/aaa");
  ASSERT_TRUE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.gone);
  ASSERT_TRUE(sample.cpu_ok);
  EXPECT_EQ(sample.cpu_usage_usec, 2500000u);
  EXPECT_DOUBLE_EQ(sample.cpu_quota_cores, 0.5);
  EXPECT_EQ(sample.cpuset_cpus, 2);
  ASSERT_TRUE(sample.memory_ok);
  EXPECT_EQ(sample.memory_current, 104857600u);
  // Usage less memory.stat's inactive_file: 100 MiB - 70 MiB.
  EXPECT_EQ(sample.memory_working_set, 104857600u - 73400320u);
  EXPECT_EQ(sample.memory_limit, kUnlimited);
  ASSERT_TRUE(sample.pids_ok);
  EXPECT_EQ(sample.pids_current, 7u);
  EXPECT_EQ(sample.pids_max, kUnlimited);
  ASSERT_TRUE(sample.cpu_pressure);
  EXPECT_DOUBLE_EQ(sample.cpu_pressure->some_avg10, 12.5);
  ASSERT_TRUE(sample.memory_pressure);
  EXPECT_DOUBLE_EQ(sample.memory_pressure->full_avg10, 0.75);
  // Re-reading gives the same (pread at offset 0 each time).
  Sample again = reader.Read();
  EXPECT_EQ(again.cpu_usage_usec, 2500000u);
  EXPECT_EQ(again.memory_current, 104857600u);
}

TEST(CgroupV2Reader, ReadsLimits) {
  CgroupV2Reader reader(kTestdata + "/v2/k8s.io/limited");
  Sample sample = reader.Read();
  EXPECT_DOUBLE_EQ(sample.cpu_quota_cores, 0.0);  // "max 100000"
  EXPECT_EQ(sample.cpuset_cpus, 0);               // no cpuset.cpus.effective
  EXPECT_EQ(sample.memory_limit, 1073741824u);
  // No memory.stat: the working set is the usage.
  EXPECT_EQ(sample.memory_working_set, sample.memory_current);
  EXPECT_EQ(sample.pids_max, 100u);
  ASSERT_TRUE(sample.cpu_pressure);
  EXPECT_FALSE(sample.cpu_pressure->has_full);
  EXPECT_FALSE(sample.memory_pressure);  // file missing
}

TEST(CgroupV2Reader, MalformedFilesLeaveTheirFieldsNotOk) {
  CgroupV2Reader reader(kTestdata + "/v2/k8s.io/malformed");
  ASSERT_TRUE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.gone);
  EXPECT_FALSE(sample.cpu_ok);     // no usage_usec line
  EXPECT_FALSE(sample.memory_ok);  // "abc"
  EXPECT_FALSE(sample.pids_ok);    // empty
  EXPECT_FALSE(sample.cpu_pressure);
  EXPECT_FALSE(sample.memory_pressure);  // "full" without "some"
}

TEST(CgroupV2Reader, MissingFilesLeaveTheirFieldsNotOk) {
  CgroupV2Reader reader(kTestdata + "/v2/k8s.io/partial");
  ASSERT_TRUE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.gone);
  EXPECT_FALSE(sample.cpu_ok);
  ASSERT_TRUE(sample.memory_ok);
  EXPECT_EQ(sample.memory_current, 4096u);
  EXPECT_EQ(sample.memory_limit, kUnlimited);
  EXPECT_FALSE(sample.pids_ok);
}

TEST(CgroupV2Reader, MissingDirectoryIsNotFound) {
  CgroupV2Reader reader(kTestdata + "/v2/k8s.io/no-such-container");
  EXPECT_FALSE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.cpu_ok || sample.memory_ok || sample.pids_ok);
}

TEST(CgroupV1Reader, ReadsPerControllerHierarchies) {
  CgroupMounts mounts = FixtureV1Mounts();
  CgroupLocation location;
  for (const char* controller : {"cpu", "cpuacct", "cpuset", "memory", "pids"}) {
    location.v1_paths[controller] = "/k8s.io/bbb";
  }
  location.v2_path = "/k8s.io/bbb";
  CgroupV1Reader reader(mounts, location);
  ASSERT_TRUE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.gone);
  ASSERT_TRUE(sample.cpu_ok);
  EXPECT_EQ(sample.cpu_usage_usec, 3000000u);  // cpuacct.usage is in ns
  EXPECT_DOUBLE_EQ(sample.cpu_quota_cores, 2.0);
  EXPECT_EQ(sample.cpuset_cpus, 1);
  ASSERT_TRUE(sample.memory_ok);
  EXPECT_EQ(sample.memory_current, 52428800u);
  // v1: less total_inactive_file (hierarchical), not inactive_file.
  EXPECT_EQ(sample.memory_working_set, 52428800u - 40894464u);
  EXPECT_EQ(sample.memory_limit, kUnlimited);  // 9223372036854771712
  ASSERT_TRUE(sample.pids_ok);
  EXPECT_EQ(sample.pids_current, 3u);
  EXPECT_EQ(sample.pids_max, 64u);
  ASSERT_TRUE(sample.cpu_pressure);  // hybrid: from the unified hierarchy
  EXPECT_DOUBLE_EQ(sample.cpu_pressure->some_avg10, 2.0);
  ASSERT_TRUE(sample.memory_pressure);
}

TEST(CgroupV1Reader, NoQuotaAndMissingController) {
  CgroupMounts mounts = FixtureV1Mounts();
  CgroupLocation location;
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids"}) {
    location.v1_paths[controller] = "/k8s.io/ccc";
  }
  CgroupV1Reader reader(mounts, location);
  Sample sample = reader.Read();
  ASSERT_TRUE(sample.cpu_ok);
  EXPECT_EQ(sample.cpu_usage_usec, 1u);
  EXPECT_DOUBLE_EQ(sample.cpu_quota_cores, 0.0);  // -1
  EXPECT_EQ(sample.cpuset_cpus, 0);               // not in the location
  ASSERT_TRUE(sample.memory_ok);
  EXPECT_EQ(sample.memory_limit, 268435456u);
  EXPECT_FALSE(sample.pids_ok);  // no pids files
  EXPECT_FALSE(sample.cpu_pressure);
}

TEST(CgroupV1Reader, UnmountedControllersAreNotFound) {
  CgroupLocation location;
  location.v1_paths["memory"] = "/k8s.io/bbb";
  CgroupV1Reader reader(CgroupMounts(), location);
  EXPECT_FALSE(reader.found());
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.gone);
  EXPECT_FALSE(sample.memory_ok);
}

// A copy of a fixture cgroup in a temporary directory, removed by the test.
class TempCgroup {
 public:
  TempCgroup() {
    char pattern[] = "/tmp/crigate-monitor-test-XXXXXX";
    directory_ = ::mkdtemp(pattern);
    Write("cpu.stat", "usage_usec 10\n");
    Write("memory.current", "100\n");
    Write("memory.max", "1000\n");
  }
  ~TempCgroup() { std::system(("rm -rf " + directory_).c_str()); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(directory_ + "/" + name) << text;
  }
  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
};

TEST(CgroupV2Reader, FilesRewrittenBetweenSamplesAreReadAfresh) {
  TempCgroup cgroup;
  CgroupV2Reader reader(cgroup.directory());
  EXPECT_EQ(reader.Read().memory_current, 100u);
  // Truncate and rewrite in place (same inode, as the kernel's would be).
  cgroup.Write("memory.current", "250\n");
  EXPECT_EQ(reader.Read().memory_current, 250u);
  // Truncated to nothing, as if caught mid-write: not ok, no crash.
  cgroup.Write("memory.current", "");
  Sample sample = reader.Read();
  EXPECT_FALSE(sample.memory_ok);
  EXPECT_TRUE(sample.cpu_ok);
}

TEST(CgroupV2Reader, TextTooLargeForItsBufferIsAnErrorNotATruncatedValue) {
  TempCgroup cgroup;
  cgroup.Write("memory.current", std::string(300, '1') + "\n");
  CgroupV2Reader reader(cgroup.directory());
  EXPECT_FALSE(reader.Read().memory_ok);
}

TEST(StatFile, ReportsMissingAndGone) {
  StatFile missing("/tmp/crigate-monitor-no-such-file");
  EXPECT_EQ(missing.open_status(), StatFile::Status::kMissing);
  std::string_view text;
  EXPECT_EQ(missing.Read(&text), StatFile::Status::kMissing);
  StatFile vanished_parent("/proc/999999999/cgroup");
  EXPECT_NE(vanished_parent.open_status(), StatFile::Status::kOk);
  EXPECT_EQ(StatusFromErrno(ENODEV), StatFile::Status::kGone);
  EXPECT_EQ(StatusFromErrno(ESRCH), StatFile::Status::kGone);
  EXPECT_EQ(StatusFromErrno(EACCES), StatFile::Status::kError);
}

// /proc/<pid> files of an exited process fail with ESRCH on read: the same
// "gone" path a vanished cgroup takes.
TEST(StatFile, ProcessExitedBetweenOpenAndReadIsGone) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  StatFile file("/proc/" + std::to_string(child) + "/stat", 1024);
  ASSERT_EQ(file.open_status(), StatFile::Status::kOk);
  std::string_view text;
  EXPECT_EQ(file.Read(&text), StatFile::Status::kOk);
  ::kill(child, SIGKILL);
  int status;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(file.Read(&text), StatFile::Status::kGone);
}

}  // namespace
}  // namespace crigate::monitor
