#include "cgroup_mounts.h"

#include <gtest/gtest.h>

namespace crigate::monitor {
namespace {

// This host's table (Debian 12 VM, hybrid), plus a co-mounted pair and a bind
// mount of a subtree, as a container would see.
constexpr char kMountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
    "50 31 0:40 /docker/x /mnt/with\\040space rw - cgroup cgroup rw,net_cls,net_prio\n";

TEST(CgroupMounts, FromMountinfoFindsEachHierarchy) {
  CgroupMounts mounts = CgroupMounts::FromMountinfo(kMountinfo);
  ASSERT_NE(mounts.V1("cpu"), nullptr);
  EXPECT_EQ(mounts.V1("cpu")->mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(mounts.V1("cpuacct")->mount_point, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(mounts.V1("memory")->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.V1("pids")->mount_point, "/sys/fs/cgroup/pids");
  EXPECT_EQ(mounts.V1("cpuset"), nullptr);
  // Flags and named hierarchies are not controllers.
  EXPECT_EQ(mounts.V1("xattr"), nullptr);
  EXPECT_EQ(mounts.V1("rw"), nullptr);
  ASSERT_NE(mounts.V2(), nullptr);
  EXPECT_EQ(mounts.V2()->mount_point, "/sys/fs/cgroup/unified");
  // Escapes decoded; both co-mounted controllers; the root kept.
  ASSERT_NE(mounts.V1("net_prio"), nullptr);
  EXPECT_EQ(mounts.V1("net_cls")->mount_point, "/mnt/with space");
  EXPECT_EQ(mounts.V1("net_cls")->root, "/docker/x");
}

TEST(CgroupMounts, IgnoresMalformedLines) {
  CgroupMounts mounts = CgroupMounts::FromMountinfo("garbage\n1 2 3\n\n");
  EXPECT_EQ(mounts.V2(), nullptr);
  EXPECT_TRUE(mounts.V1Controllers().empty());
}

TEST(CgroupMounts, DirectoryJoinsPathsUnderTheMountRoot) {
  CgroupMount plain{"/sys/fs/cgroup/memory", "/", "mountinfo"};
  EXPECT_EQ(CgroupMounts::Directory(plain, "/k8s.io/abc"), "/sys/fs/cgroup/memory/k8s.io/abc");
  EXPECT_EQ(CgroupMounts::Directory(plain, "/"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(CgroupMounts::Directory(plain, "relative"), "");
  CgroupMount subtree{"/sys/fs/cgroup/memory", "/docker/x", "mountinfo"};
  EXPECT_EQ(CgroupMounts::Directory(subtree, "/docker/x/k8s.io/abc"),
            "/sys/fs/cgroup/memory/k8s.io/abc");
  EXPECT_EQ(CgroupMounts::Directory(subtree, "/docker/x"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(CgroupMounts::Directory(subtree, "/docker/xy/abc"), "");
  EXPECT_EQ(CgroupMounts::Directory(subtree, "/other"), "");
}

// On this host libcgroup must agree with the mount table for every controller
// the readers use; where libcgroup answers, it is recorded as the source.
TEST(CgroupMounts, DiscoverOnThisHostAgreesWithMountinfo) {
  CgroupMounts discovered = CgroupMounts::Discover();
  std::string text;
  {
    FILE* file = std::fopen("/proc/self/mountinfo", "r");
    ASSERT_NE(file, nullptr);
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    std::fclose(file);
  }
  CgroupMounts table = CgroupMounts::FromMountinfo(text);
  for (const char* controller : {"cpu", "cpuacct", "cpuset", "memory", "pids"}) {
    const CgroupMount* expected = table.V1(controller);
    const CgroupMount* got = discovered.V1(controller);
    if (expected == nullptr) continue;  // e.g. a unified host
    ASSERT_NE(got, nullptr) << controller;
    EXPECT_EQ(got->mount_point, expected->mount_point) << controller;
    EXPECT_STREQ(got->found_by, "libcgroup") << controller;
  }
  EXPECT_EQ(discovered.V2() == nullptr, table.V2() == nullptr);
}

}  // namespace
}  // namespace crigate::monitor
