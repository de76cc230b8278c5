// Where each cgroup hierarchy is mounted, found once at start-up so that no
// sample ever walks the mount table.
//
// libcgroup: Discover() asks libcgroup (cgroup_init + cgroup_get_subsys_mount_point)
// for the mount point of each v1 controller: it knows co-mounted and named
// hierarchies and is the library the design card names for this. It cannot
// answer the rest, which comes from /proc/self/mountinfo:
//  - a mount's root (a cgroup namespace or a bind mount shows a subtree, and
//    /proc/<pid>/cgroup paths must then be taken relative to it); libcgroup
//    2.0.2 reads /proc/mounts, which has no root field;
//  - the cgroup2 mount: libcgroup 2.0.2 has no host-mode API, and on this
//    host (hybrid) it even lists the controller-less /sys/fs/cgroup/unified as
//    the "hugetlb" hierarchy;
//  - any controller libcgroup cannot answer (cgroup_init fails when no v1
//    hierarchy is mounted, as on a unified host).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crigate::monitor {

struct CgroupMount {
  std::string mount_point;    // "/sys/fs/cgroup/memory"
  std::string root = "/";     // the hierarchy path shown at mount_point
  const char* found_by = "";  // "libcgroup" or "mountinfo", for the probe
};

class CgroupMounts final {
 public:
  CgroupMounts() = default;

  // From the text of a mountinfo file. Pure: fixture tests pass mountinfo
  // lines that point into monitor/testdata.
  static CgroupMounts FromMountinfo(std::string_view mountinfo);

  // The running host: /proc/self/mountinfo, then libcgroup for v1 controller
  // mount points (see the header comment). Never throws; an empty result means
  // no cgroup hierarchy could be found.
  static CgroupMounts Discover();

  // nullptr when that v1 controller is not mounted.
  const CgroupMount* V1(std::string_view controller) const;
  // nullptr when no cgroup2 hierarchy is mounted.
  const CgroupMount* V2() const { return v2_ ? &*v2_ : nullptr; }

  std::vector<std::string> V1Controllers() const;

  // The directory of hierarchy path `cgroup_path` under `mount`, or "" when
  // the path lies outside what the mount shows (e.g. another namespace's).
  static std::string Directory(const CgroupMount& mount, std::string_view cgroup_path);

  // One line per hierarchy, for the probe and start-up log.
  std::string Describe() const;

 private:
  std::map<std::string, CgroupMount, std::less<>> v1_;
  std::optional<CgroupMount> v2_;
};

}  // namespace crigate::monitor
