#include "host_cgroup_opener.h"

#include "cgroup_v1_reader.h"
#include "cgroup_v2_reader.h"
#include "stat_file.h"

namespace crigate::monitor {

HostCgroupOpener::HostCgroupOpener(CgroupMode mode, CgroupMounts mounts, std::string proc_root)
    : mode_(mode), mounts_(std::move(mounts)), proc_root_(std::move(proc_root)) {}

std::unique_ptr<HostCgroupOpener> HostCgroupOpener::ForThisHost() {
  return std::make_unique<HostCgroupOpener>(DetectCgroupMode(), CgroupMounts::Discover());
}

CgroupLocation HostCgroupOpener::Locate(const CgroupRef& ref) const {
  if (ref.pid > 0) {
    StatFile file(proc_root_ + "/" + std::to_string(ref.pid) + "/cgroup", 4096);
    std::string_view text;
    if (file.Read(&text) == StatFile::Status::kOk) {
      CgroupLocation location = LocationFromProcCgroup(text);
      if (!location.empty()) return location;
    }
  }
  return LocationFromCgroupsPath(ref.cgroups_path, mounts_.V1Controllers());
}

base::Result<std::unique_ptr<CgroupReader>> HostCgroupOpener::Open(const CgroupRef& ref) {
  CgroupLocation location = Locate(ref);
  if (location.empty()) {
    return base::Status::NotFound("no cgroup location: pid " + std::to_string(ref.pid) +
                                  " gone and cgroupsPath \"" + ref.cgroups_path + "\" unusable");
  }
  switch (mode_) {
    case CgroupMode::kUnified: {
      const CgroupMount* mount = mounts_.V2();
      std::string directory =
          mount == nullptr ? std::string() : CgroupMounts::Directory(*mount, location.v2_path);
      if (directory.empty()) break;
      auto reader = std::make_unique<CgroupV2Reader>(directory);
      if (reader->found()) return std::unique_ptr<CgroupReader>(std::move(reader));
      return base::Status::NotFound("no cgroup files in " + directory);
    }
    case CgroupMode::kLegacy:
    case CgroupMode::kHybrid: {
      auto reader = std::make_unique<CgroupV1Reader>(mounts_, location);
      if (reader->found()) return std::unique_ptr<CgroupReader>(std::move(reader));
      return base::Status::NotFound("no cgroup files: " + reader->Describe());
    }
    case CgroupMode::kUnavailable:
      return base::Status::Unavailable("cgroups unavailable on this host");
  }
  return base::Status::NotFound("cgroup path outside the mounted hierarchy");
}

}  // namespace crigate::monitor
