#include "cgroup_mode.h"

#include <linux/magic.h>
#include <sys/vfs.h>

namespace crigate::monitor {
namespace {

std::optional<long> FsType(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<long>(st.f_type);
}

}  // namespace

const char* CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kUnavailable:
      return "unavailable";
    case CgroupMode::kLegacy:
      return "legacy";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kUnified:
      return "unified";
  }
  return "unknown";
}

CgroupMode DecideCgroupMode(std::optional<long> root_fs_type, std::optional<long> unified_fs_type) {
  if (!root_fs_type) return CgroupMode::kUnavailable;
  if (*root_fs_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kUnified;
  if (unified_fs_type && *unified_fs_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kHybrid;
  return CgroupMode::kLegacy;
}

CgroupMode DetectCgroupMode(const std::string& root) {
  std::optional<long> root_type = FsType(root);
  // Only look for the unified mount when the root is not cgroup2 itself, as
  // containerd does.
  std::optional<long> unified_type;
  if (root_type && *root_type != CGROUP2_SUPER_MAGIC) unified_type = FsType(root + "/unified");
  return DecideCgroupMode(root_type, unified_type);
}

}  // namespace crigate::monitor
