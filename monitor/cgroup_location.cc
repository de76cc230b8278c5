#include "cgroup_location.h"

#include "text_fields.h"

namespace crigate::monitor {
namespace {

// runc's ExpandSlice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice".
// Empty on a malformed name.
std::string ExpandSlice(std::string_view slice) {
  constexpr std::string_view kSuffix = ".slice";
  if (slice.size() <= kSuffix.size() || slice.substr(slice.size() - kSuffix.size()) != kSuffix ||
      slice.find('/') != std::string_view::npos) {
    return {};
  }
  if (slice == "-.slice") return "/";
  std::string_view name = slice.substr(0, slice.size() - kSuffix.size());
  std::string path;
  std::string prefix;
  while (true) {
    size_t dash = name.find('-');
    std::string_view component = name.substr(0, dash);
    if (component.empty()) return {};  // "a--b", "-a", "a-"
    path += "/" + prefix + std::string(component) + std::string(kSuffix);
    prefix += std::string(component) + "-";
    if (dash == std::string_view::npos) break;
    name.remove_prefix(dash + 1);
  }
  return path;
}

// Empty on a malformed systemd-form path.
std::string SystemdPath(std::string_view cgroups_path) {
  size_t first = cgroups_path.find(':');
  size_t second = cgroups_path.find(':', first + 1);
  if (second == std::string_view::npos ||
      cgroups_path.find(':', second + 1) != std::string_view::npos) {
    return {};
  }
  std::string_view parent = cgroups_path.substr(0, first);
  std::string_view prefix = cgroups_path.substr(first + 1, second - first - 1);
  std::string_view name = cgroups_path.substr(second + 1);
  if (name.empty() || name.find('/') != std::string_view::npos) return {};
  std::string slice_path = ExpandSlice(parent.empty() ? "system.slice" : parent);
  if (slice_path.empty()) return {};
  std::string unit;
  if (name.size() > 6 && name.substr(name.size() - 6) == ".slice") {
    unit = std::string(name);
  } else {
    unit =
        (prefix.empty() ? std::string() : std::string(prefix) + "-") + std::string(name) + ".scope";
  }
  return (slice_path == "/" ? std::string() : slice_path) + "/" + unit;
}

}  // namespace

CgroupLocation LocationFromProcCgroup(std::string_view text) {
  CgroupLocation location;
  for (std::string_view line : SplitLines(text)) {
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (path.empty() || path.front() != '/') continue;
    if (line.substr(0, first) == "0" && controllers.empty()) {
      location.v2_path = std::string(path);
      continue;
    }
    while (!controllers.empty()) {
      size_t comma = controllers.find(',');
      std::string_view controller = controllers.substr(0, comma);
      if (!controller.empty() && controller.substr(0, 5) != "name=") {
        location.v1_paths[std::string(controller)] = std::string(path);
      }
      if (comma == std::string_view::npos) break;
      controllers.remove_prefix(comma + 1);
    }
  }
  return location;
}

CgroupLocation LocationFromCgroupsPath(std::string_view cgroups_path,
                                       const std::vector<std::string>& v1_controllers) {
  CgroupLocation location;
  std::string path;
  if (cgroups_path.empty()) return location;
  if (cgroups_path.front() != '/' && cgroups_path.find(':') != std::string_view::npos) {
    path = SystemdPath(cgroups_path);
  } else {
    path =
        cgroups_path.front() == '/' ? std::string(cgroups_path) : "/" + std::string(cgroups_path);
  }
  if (path.empty() || path.find("/../") != std::string::npos ||
      (path.size() >= 3 && path.substr(path.size() - 3) == "/..")) {
    return location;
  }
  location.v2_path = path;
  for (const std::string& controller : v1_controllers) location.v1_paths[controller] = path;
  return location;
}

}  // namespace crigate::monitor
