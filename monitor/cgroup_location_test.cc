#include "cgroup_location.h"

#include <gtest/gtest.h>

namespace crigate::monitor {
namespace {

TEST(LocationFromProcCgroup, ReadsHybridHostLines) {
  CgroupLocation location = LocationFromProcCgroup(
      "9:name=systemd:/\n8:pids:/k8s.io/abc\n4:memory:/k8s.io/abc\n2:cpu,cpuacct:/k8s.io/abc\n"
      "0::/k8s.io/abc\n");
  EXPECT_EQ(location.v2_path, "/k8s.io/abc");
  EXPECT_EQ(location.v1_paths.at("pids"), "/k8s.io/abc");
  EXPECT_EQ(location.v1_paths.at("memory"), "/k8s.io/abc");
  // Co-mounted controllers fill both.
  EXPECT_EQ(location.v1_paths.at("cpu"), "/k8s.io/abc");
  EXPECT_EQ(location.v1_paths.at("cpuacct"), "/k8s.io/abc");
  // Named hierarchies are not controllers.
  EXPECT_EQ(location.v1_paths.count("name=systemd"), 0u);
}

TEST(LocationFromProcCgroup, ReadsUnifiedHost) {
  CgroupLocation location = LocationFromProcCgroup("0::/kubepods/besteffort/pod1/abc\n");
  EXPECT_EQ(location.v2_path, "/kubepods/besteffort/pod1/abc");
  EXPECT_TRUE(location.v1_paths.empty());
}

TEST(LocationFromProcCgroup, SkipsMalformedLines) {
  CgroupLocation location =
      LocationFromProcCgroup("garbage\n4:memory\n5:pids:relative\n\n3:cpuset:/x\n");
  EXPECT_EQ(location.v1_paths.size(), 1u);
  EXPECT_EQ(location.v1_paths.at("cpuset"), "/x");
  EXPECT_TRUE(LocationFromProcCgroup("").empty());
}

const std::vector<std::string> kControllers = {"cpu", "cpuacct", "memory", "pids"};

TEST(LocationFromCgroupsPath, CgroupfsPathServesEveryController) {
  CgroupLocation location = LocationFromCgroupsPath("/k8s.io/abc", kControllers);
  EXPECT_EQ(location.v2_path, "/k8s.io/abc");
  for (const std::string& controller : kControllers) {
    EXPECT_EQ(location.v1_paths.at(controller), "/k8s.io/abc");
  }
  EXPECT_EQ(LocationFromCgroupsPath("kubepods/pod1/abc", kControllers).v2_path,
            "/kubepods/pod1/abc");
}

TEST(LocationFromCgroupsPath, ExpandsSystemdForm) {
  EXPECT_EQ(LocationFromCgroupsPath("kubepods-burstable-pod1.slice:cri-containerd:abc", {}).v2_path,
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
            "cri-containerd-abc.scope");
  EXPECT_EQ(LocationFromCgroupsPath(":cri-containerd:abc", {}).v2_path,
            "/system.slice/cri-containerd-abc.scope");
  EXPECT_EQ(LocationFromCgroupsPath("-.slice:p:abc", {}).v2_path, "/p-abc.scope");
}

TEST(LocationFromCgroupsPath, RejectsMalformed) {
  EXPECT_TRUE(LocationFromCgroupsPath("", kControllers).empty());
  EXPECT_TRUE(LocationFromCgroupsPath("notaslice:p:abc", kControllers).empty());
  EXPECT_TRUE(LocationFromCgroupsPath("a--b.slice:p:abc", kControllers).empty());
  EXPECT_TRUE(LocationFromCgroupsPath("a.slice:p:", kControllers).empty());
  EXPECT_TRUE(LocationFromCgroupsPath("a.slice:p:x:y", kControllers).empty());
  EXPECT_TRUE(LocationFromCgroupsPath("/k8s.io/../../etc", kControllers).empty());
}

}  // namespace
}  // namespace crigate::monitor
