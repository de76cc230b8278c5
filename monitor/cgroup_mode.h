// Which cgroup hierarchy the host runs, decided by containerd's own rule so
// that crigate and the runtime never disagree about where a container's
// files are.
#pragma once

#include <optional>
#include <string>

namespace crigate::monitor {

enum class CgroupMode {
  kUnavailable,  // /sys/fs/cgroup cannot be examined: no sampling possible
  kLegacy,       // v1 controllers only
  kHybrid,       // v1 controllers, plus a controller-less cgroup2 at <root>/unified
  kUnified,      // cgroup2 only
};

const char* CgroupModeName(CgroupMode mode);

// The decision alone, separate from statfs so that tests can cover every case
// (statfs cannot be faked on a fixture directory). Each argument is the f_type
// statfs reported for that path, or nullopt when statfs failed.
CgroupMode DecideCgroupMode(std::optional<long> root_fs_type, std::optional<long> unified_fs_type);

// statfs(root) is cgroup2 -> unified; else statfs(root + "/unified") is
// cgroup2 -> hybrid; else legacy; statfs(root) failing -> unavailable.
// `root` is "/sys/fs/cgroup" on a real host.
CgroupMode DetectCgroupMode(const std::string& root = "/sys/fs/cgroup");

}  // namespace crigate::monitor
