#include "cgroup_mounts.h"

#include <fcntl.h>
#include <libcgroup.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <mutex>

#include "text_fields.h"

namespace crigate::monitor {
namespace {

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo.
std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// Whole small file, or "" when it cannot be read. Start-up only.
std::string ReadSmallFile(const char* path) {
  std::string text;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

void QuietLogger(void*, int, const char*, va_list) {}

// cgroup_init is process-global and not thread-safe: run it once.
bool LibcgroupReady() {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] {
    // libcgroup's default logger writes to stderr; its failures are expected
    // here (e.g. a unified host) and handled by the mountinfo fallback.
    cgroup_set_logger(QuietLogger, CGROUP_LOG_ERROR, nullptr);
    ready = cgroup_init() == 0;
  });
  return ready;
}

}  // namespace

CgroupMounts CgroupMounts::FromMountinfo(std::string_view mountinfo) {
  CgroupMounts mounts;
  for (std::string_view line : SplitLines(mountinfo)) {
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    std::string_view rest = line;
    NextField(rest);
    NextField(rest);
    NextField(rest);
    std::string root = Unescape(NextField(rest));
    std::string mount_point = Unescape(NextField(rest));
    size_t separator = rest.find(" - ");
    if (mount_point.empty() || root.empty() || separator == std::string_view::npos) continue;
    rest.remove_prefix(separator + 3);
    std::string_view fs_type = NextField(rest);
    NextField(rest);  // source
    std::string_view options = NextField(rest);
    CgroupMount mount{mount_point, root, "mountinfo"};
    if (fs_type == "cgroup2") {
      // Prefer the standard places when several are mounted.
      bool standard = mount_point == "/sys/fs/cgroup" || mount_point == "/sys/fs/cgroup/unified";
      if (!mounts.v2_ || standard) mounts.v2_ = mount;
      continue;
    }
    if (fs_type != "cgroup") continue;
    while (!options.empty()) {
      size_t comma = options.find(',');
      std::string_view option = options.substr(0, comma);
      bool is_flag = option == "rw" || option == "ro" ||
                     option.find('=') != std::string_view::npos || option == "noprefix" ||
                     option == "clone_children" || option == "xattr" ||
                     option == "cpuset_v2_mode" || option == "favordynmods";
      if (!option.empty() && !is_flag) mounts.v1_.emplace(std::string(option), mount);
      if (comma == std::string_view::npos) break;
      options.remove_prefix(comma + 1);
    }
  }
  return mounts;
}

CgroupMounts CgroupMounts::Discover() {
  CgroupMounts mounts = FromMountinfo(ReadSmallFile("/proc/self/mountinfo"));
  if (!LibcgroupReady()) return mounts;
  // The controllers the readers use; libcgroup is asked about each.
  for (const char* controller : {"cpu", "cpuacct", "cpuset", "memory", "pids"}) {
    char* mount_point = nullptr;
    if (cgroup_get_subsys_mount_point(controller, &mount_point) == 0 && mount_point != nullptr) {
      CgroupMount& mount = mounts.v1_[controller];
      // Keep mountinfo's root only when it describes that same mount.
      if (mount.mount_point != mount_point) mount.root = "/";
      mount.mount_point = mount_point;
      mount.found_by = "libcgroup";
    }
    std::free(mount_point);
  }
  return mounts;
}

const CgroupMount* CgroupMounts::V1(std::string_view controller) const {
  auto it = v1_.find(controller);
  return it == v1_.end() ? nullptr : &it->second;
}

std::vector<std::string> CgroupMounts::V1Controllers() const {
  std::vector<std::string> names;
  for (const auto& entry : v1_) names.push_back(entry.first);
  return names;
}

std::string CgroupMounts::Directory(const CgroupMount& mount, std::string_view cgroup_path) {
  if (cgroup_path.empty() || cgroup_path.front() != '/') return {};
  std::string_view root = mount.root;
  if (root != "/") {
    if (cgroup_path.substr(0, root.size()) != root ||
        (cgroup_path.size() > root.size() && cgroup_path[root.size()] != '/')) {
      return {};
    }
    cgroup_path.remove_prefix(root.size());
  }
  if (cgroup_path == "/" || cgroup_path.empty()) return mount.mount_point;
  return mount.mount_point + std::string(cgroup_path);
}

std::string CgroupMounts::Describe() const {
  std::string text;
  if (v2_) text += "cgroup2 at " + v2_->mount_point + " (root " + v2_->root + ", mountinfo)\n";
  for (const auto& [controller, mount] : v1_) {
    text += controller + " at " + mount.mount_point + " (root " + mount.root + ", " +
            mount.found_by + ")\n";
  }
  return text;
}

}  // namespace crigate::monitor
