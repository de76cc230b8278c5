// Where one container's cgroup is, as paths inside each hierarchy (not yet
// joined to a mount point: that is CgroupMounts' job).
//
// Two sources, in order of preference:
//  - /proc/<pid>/cgroup of the container's init process: the kernel's own
//    answer, right for any cgroup driver, relative to crigate's cgroup
//    namespace (which is what crigate's mounts show);
//  - the OCI spec's linux.cgroupsPath from ContainerStatus' verbose info,
//    when the pid is unknown or already gone.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crigate::monitor {

struct CgroupLocation {
  // Path in the cgroup2 hierarchy ("0::" line); empty when unknown.
  std::string v2_path;
  // v1 controller ("cpu", "cpuacct", "memory", "pids", "cpuset", ...) -> path.
  std::map<std::string, std::string> v1_paths;

  bool empty() const { return v2_path.empty() && v1_paths.empty(); }
};

// Parses /proc/<pid>/cgroup ("hierarchy-ID:controller-list:path" lines;
// co-mounted "cpu,cpuacct" fill both controllers; named hierarchies such as
// "name=systemd" are skipped). A malformed line is skipped, not fatal.
CgroupLocation LocationFromProcCgroup(std::string_view text);

// The location an OCI linux.cgroupsPath gives. Two forms, as runc reads them:
//  - cgroupfs driver: an absolute path, "/k8s.io/<id>" or the pod's
//    cgroup_parent + "/" + id; a relative one is taken from the root;
//  - systemd driver: "slice:prefix:name", expanded as runc does, e.g.
//    "kubepods-burstable-pod1.slice:cri-containerd:abc" ->
//    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope".
// The same path serves v2 and every v1 controller in `v1_controllers`.
// Returns an empty location when the path is malformed.
CgroupLocation LocationFromCgroupsPath(std::string_view cgroups_path,
                                       const std::vector<std::string>& v1_controllers);

}  // namespace crigate::monitor
