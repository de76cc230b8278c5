// The CgroupOpener of a real host: knows the host's cgroup mode and mounts
// (found once at start-up) and opens a v2 or v1 reader for a container.
#pragma once

#include <memory>
#include <string>

#include "cgroup_location.h"
#include "cgroup_mode.h"
#include "cgroup_mounts.h"
#include "cgroup_reader.h"

namespace crigate::monitor {

class HostCgroupOpener final : public CgroupOpener {
 public:
  // `proc_root` is "/proc" on a real host; tests point it at a fixture.
  HostCgroupOpener(CgroupMode mode, CgroupMounts mounts, std::string proc_root = "/proc");

  // DetectCgroupMode() and CgroupMounts::Discover() on this host.
  static std::unique_ptr<HostCgroupOpener> ForThisHost();

  CgroupMode mode() const { return mode_; }
  const CgroupMounts& mounts() const { return mounts_; }

  // Where the container's cgroup is: /proc/<pid>/cgroup when the pid is
  // known and still alive, else the OCI cgroupsPath. Empty when neither works.
  CgroupLocation Locate(const CgroupRef& ref) const;

  base::Result<std::unique_ptr<CgroupReader>> Open(const CgroupRef& ref) override;

 private:
  // Constant after construction, so Open is thread-safe.
  const CgroupMode mode_;
  const CgroupMounts mounts_;
  const std::string proc_root_;
};

}  // namespace crigate::monitor
