#include "policy/workload_profile.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "policy/base/text.h"

namespace crigate::policy {
namespace {

using Kind = Confinement::Kind;

// PSS baseline: capabilities a container may add (the runtime's default set).
const std::set<std::string>& BaselineCapabilities() {
  static const std::set<std::string> kCaps = {
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
  return kCaps;
}

// PSS: the sysctls that are namespaced and isolated from the host.
const std::set<std::string>& SafeSysctls() {
  static const std::set<std::string> kSysctls = {
      "kernel.shm_rmid_forced",           "net.ipv4.ip_local_port_range",
      "net.ipv4.ip_local_reserved_ports", "net.ipv4.ip_unprivileged_port_start",
      "net.ipv4.tcp_syncookies",          "net.ipv4.ping_group_range",
      "net.ipv4.tcp_keepalive_time",      "net.ipv4.tcp_fin_timeout",
      "net.ipv4.tcp_keepalive_intvl",     "net.ipv4.tcp_keepalive_probes"};
  return kSysctls;
}

// PSS baseline: the SELinux types a container may ask for ("" keeps the runtime's).
const std::set<std::string>& ContainerSeLinuxTypes() {
  static const std::set<std::string> kTypes = {"", "container_t", "container_init_t",
                                               "container_kvm_t", "container_engine_t"};
  return kTypes;
}

// What kubelet sends (and containerd applies) for the default /proc mount.
const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/proc/scsi",          "/sys/firmware"};
  return kPaths;
}

const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> kPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                  "/proc/sysrq-trigger"};
  return kPaths;
}

std::string Join(const std::set<std::string>& items) {
  return items.empty() ? "none" : base::Join(items);
}

// Reasons name the level that forbids the control, then the subject.
class Violation {
 public:
  Violation(PssLevel level, std::string subject) : level_(level), subject_(std::move(subject)) {}
  std::string operator()(const std::string& what) const {
    return fmt::format("{}: {} {}", PssLevelName(level_), subject_, what);
  }
  std::string Always(const std::string& what) const {  // a per-rule requirement
    return fmt::format("rule requirement: {} {}", subject_, what);
  }

 private:
  const PssLevel level_;
  const std::string subject_;
};

std::optional<std::string> CheckConfinement(const std::vector<Confinement>& forms, const char* what,
                                            bool unconfined_allowed, bool must_be_set,
                                            const std::string& prefix, const Violation& v) {
  for (const Confinement& c : forms) {
    if (c.kind == Kind::kUnconfined && !unconfined_allowed) {
      return v(fmt::format("sets {} Unconfined ({}{})", what, prefix, c.field));
    }
    if (c.kind == Kind::kUnknown && !unconfined_allowed) {
      return v(
          fmt::format("sets {} profile '{}', which is not one containerd knows ({}{}: "
                      "runtime/default, localhost/<path> or unconfined)",
                      what, c.localhost_ref, prefix, c.field));
    }
  }
  if (must_be_set && !unconfined_allowed) {
    bool confined = false;
    for (const Confinement& c : forms) {
      confined |= c.kind == Kind::kRuntimeDefault || c.kind == Kind::kLocalhost;
    }
    if (!confined) {
      return v(
          fmt::format("sets no {} profile ({}{}: RuntimeDefault or Localhost, set "
                      "explicitly, required)",
                      what, prefix, what));
    }
  }
  return std::nullopt;
}

std::optional<std::string> CheckSeLinux(const SeLinuxLabel& label, const WorkloadProfile& profile,
                                        const std::string& prefix, const Violation& v) {
  if (!label.user.empty()) {
    return v(fmt::format("sets SELinux user {} ({}selinux_options.user; none allowed)", label.user,
                         prefix));
  }
  if (!label.role.empty()) {
    return v(fmt::format("sets SELinux role {} ({}selinux_options.role; none allowed)", label.role,
                         prefix));
  }
  if (!ContainerSeLinuxTypes().count(label.type) && !profile.selinux_types.count(label.type)) {
    std::set<std::string> allowed = profile.selinux_types;
    for (const auto& t : ContainerSeLinuxTypes()) {
      if (!t.empty()) allowed.insert(t);
    }
    return v(fmt::format("sets SELinux type {} ({}selinux_options.type; allowed: {})", label.type,
                         prefix, Join(allowed)));
  }
  return std::nullopt;
}

// The uid the container will run as, or why it cannot be told.
struct EffectiveUser {
  std::optional<int64_t> uid;
  std::string why;  // when uid is unknown
};

EffectiveUser UserOf(const ContainerSecurity& s, const ImageIdentity* image) {
  if (s.run_as_user) return {s.run_as_user, ""};
  if (!s.run_as_username.empty()) {
    if (s.run_as_username == "root") return {int64_t{0}, ""};
    return {std::nullopt, fmt::format("runs as user name '{}', which cannot be verified to be "
                                      "non-root (set run_as_user)",
                                      s.run_as_username)};
  }
  if (image == nullptr) {
    return {std::nullopt, "sets no run_as_user, and the image's user is unknown"};
  }
  if (image->uid) return {image->uid, ""};
  if (!image->username.empty()) {
    if (image->username == "root") return {int64_t{0}, ""};
    return {std::nullopt,
            fmt::format("sets no run_as_user, and the image's user '{}' is a name that cannot be "
                        "verified to be non-root",
                        image->username)};
  }
  return {int64_t{0}, ""};  // an image that names no user runs as root
}

std::optional<std::string> CheckNonRoot(const ContainerSecurity& s, const ImageIdentity* image,
                                        const std::function<std::string(const std::string&)>& v) {
  EffectiveUser user = UserOf(s, image);
  if (!user.uid) return v(user.why);
  if (*user.uid == 0) {
    return v(s.run_as_user ? "runs as uid 0 (linux.security_context.run_as_user)"
                           : "runs as root: it sets no run_as_user and the image's user is root "
                             "(set run_as_user to a non-zero uid)");
  }
  return std::nullopt;
}

std::optional<std::string> CheckMounts(const WorkloadProfile& profile, const ContainerSecurity& s,
                                       const WorkloadContext& context, const Violation& v) {
  // Directories found real once need no second lstat within this decision:
  // kubelet's mounts share the pod directory's prefix.
  std::set<std::string> known_real;
  const std::string pod_dir =
      context.pod_dir.empty() ? "" : ResolveHostPath(context.pod_dir, &known_real);
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    const MountRequest& m = s.mounts[i];
    const std::string resolved = ResolveHostPath(m.host_path, &known_real);
    if (resolved.empty()) {
      return v(fmt::format("mounts host path '{}' that cannot be resolved (mounts[{}])",
                           m.host_path, i));
    }
    if (!pod_dir.empty() && IsWithin(resolved, pod_dir)) continue;  // the pod's own volume
    const AllowedHostPath* allowed = nullptr;
    for (const AllowedHostPath& a : profile.host_paths) {
      std::string base = ResolveHostPath(a.path, &known_real);
      if (!base.empty() && IsWithin(resolved, base)) {
        allowed = &a;
        break;
      }
    }
    const std::string shown = resolved == m.host_path
                                  ? m.host_path
                                  : fmt::format("{} (resolves to {})", m.host_path, resolved);
    if (allowed && allowed->read_only && !m.readonly) {
      return v(
          fmt::format("mounts host path {} read-write at {} (mounts[{}]; {} is allowed "
                      "read-only)",
                      shown, m.container_path, i, allowed->path));
    }
    if (!allowed) {
      std::set<std::string> paths;
      for (const auto& a : profile.host_paths) paths.insert(a.path);
      return v(
          fmt::format("mounts host path {} at {} (mounts[{}]; allowed: the pod's own volumes "
                      "under {}{}{})",
                      shown, m.container_path, i,
                      context.pod_dir.empty() ? "<kubelet root>/pods/<pod uid>" : context.pod_dir,
                      paths.empty() ? "" : ", ", paths.empty() ? "" : Join(paths)));
    }
  }
  return std::nullopt;
}

std::optional<std::string> CheckProc(const ContainerSecurity& s, const Violation& v) {
  const struct {
    const std::vector<std::string>& asked;
    const std::vector<std::string>& defaults;
    const char* field;
    const char* verb;
  } lists[] = {{s.masked_paths, DefaultMaskedPaths(), "masked_paths", "unmasks"},
               {s.readonly_paths, DefaultReadonlyPaths(), "readonly_paths", "makes writable"}};
  for (const auto& list : lists) {
    // containerd 1.6 masks only what the request lists (seen here: a
    // container created with no list has none in its OCI spec, and /proc is
    // open). kubelet always sends the defaults below for a default /proc.
    for (const std::string& path : list.defaults) {
      if (std::find(list.asked.begin(), list.asked.end(), path) == list.asked.end()) {
        return v(fmt::format(
            "{} {} ({}{}: the runtime protects only what the request lists, "
            "and kubelet lists the defaults for a default /proc mount)",
            list.verb, path, list.field, list.asked.empty() ? " is not set" : " leaves it out"));
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::string CapabilityName(std::string cap) {
  std::transform(cap.begin(), cap.end(), cap.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (cap.rfind("CAP_", 0) == 0) cap.erase(0, 4);
  return cap;
}

const char* PssLevelName(PssLevel level) {
  switch (level) {
    case PssLevel::kPrivileged:
      return "privileged";
    case PssLevel::kBaseline:
      return "baseline";
    case PssLevel::kRestricted:
      return "restricted";
  }
  return "baseline";
}

std::optional<PssLevel> ParsePssLevel(std::string_view name) {
  if (name == "privileged") return PssLevel::kPrivileged;
  if (name == "baseline") return PssLevel::kBaseline;
  if (name == "restricted") return PssLevel::kRestricted;
  return std::nullopt;
}

std::optional<std::string> CheckPodSecurity(const WorkloadProfile& profile, const PodInfo& pod) {
  if (profile.level == PssLevel::kPrivileged) return std::nullopt;
  const Violation v(profile.level, fmt::format("pod \"{}\"", pod.name));
  const PodSecurity& s = pod.security;
  for (const auto& [name, value] : s.sysctls) {
    if (!SafeSysctls().count(name) && !profile.sysctls.count(name)) {
      std::set<std::string> allowed = SafeSysctls();
      allowed.insert(profile.sysctls.begin(), profile.sysctls.end());
      return v(fmt::format("sets sysctl {}={} (linux.sysctls; allowed: the safe set {})", name,
                           value, Join(allowed)));
    }
  }
  for (int32_t port : s.host_ports) {
    if (!profile.host_ports.count(port)) {
      std::set<std::string> allowed;
      for (int32_t p : profile.host_ports) allowed.insert(std::to_string(p));
      return v(fmt::format("maps host port {} (port_mappings; allowed: {})", port, Join(allowed)));
    }
  }
  if (auto bad = CheckSeLinux(s.selinux, profile, "linux.security_context.", v)) return bad;
  if (auto bad = CheckConfinement(s.seccomp, "seccomp", profile.allow_unconfined_seccomp, false,
                                  "linux.security_context.", v)) {
    return bad;
  }
  if (auto bad = CheckConfinement(s.apparmor, "AppArmor", profile.allow_unconfined_apparmor, false,
                                  "linux.security_context.", v)) {
    return bad;
  }
  if (profile.level == PssLevel::kRestricted && !profile.allow_root && s.run_as_user &&
      *s.run_as_user == 0) {
    return v("runs as uid 0 (linux.security_context.run_as_user)");
  }
  return std::nullopt;
}

std::optional<std::string> CheckContainerSecurity(const WorkloadProfile& profile,
                                                  const ContainerInfo& container,
                                                  const PodInfo& pod,
                                                  const WorkloadContext& context) {
  const Violation v(profile.level, fmt::format("container \"{}\"", container.name));
  const ContainerSecurity& s = container.security;
  const std::string prefix = "linux.security_context.";
  // Per-rule requirements hold at every level.
  if (profile.require_readonly_rootfs && !s.readonly_rootfs) {
    return v.Always("has a writable root file system (readonly_rootfs required)");
  }
  if (profile.require_no_new_privs && !s.no_new_privs) {
    return v.Always("may gain privileges (no_new_privs required)");
  }
  if (profile.require_non_root) {
    auto always = [&](const std::string& what) { return v.Always(what); };
    if (auto bad = CheckNonRoot(s, context.image, always)) return bad;
  }
  if (profile.level == PssLevel::kPrivileged) return std::nullopt;

  // The pod's own fields, as the real sandbox has them.
  if (auto bad = CheckPodSecurity(profile, pod)) return bad;

  const bool restricted = profile.level == PssLevel::kRestricted;
  std::set<std::string> allowed_caps =
      restricted ? std::set<std::string>{"NET_BIND_SERVICE"} : BaselineCapabilities();
  allowed_caps.insert(profile.capabilities.begin(), profile.capabilities.end());
  for (const auto* list : {&s.add_capabilities, &s.ambient_capabilities}) {
    const char* field =
        list == &s.add_capabilities ? "add_capabilities" : "add_ambient_capabilities";
    for (const std::string& cap : *list) {
      if (!allowed_caps.count(CapabilityName(cap))) {
        return v(fmt::format("adds capability {} ({}capabilities.{}; allowed: {})",
                             CapabilityName(cap), prefix, field, Join(allowed_caps)));
      }
    }
  }
  if (restricted) {
    bool drops_all = std::any_of(s.drop_capabilities.begin(), s.drop_capabilities.end(),
                                 [](const std::string& c) { return CapabilityName(c) == "ALL"; });
    if (!drops_all) {
      return v(
          fmt::format("does not drop ALL capabilities ({}capabilities.drop_capabilities)", prefix));
    }
  }
  if (auto bad = CheckMounts(profile, s, context, v)) return bad;
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const DeviceRequest& d = s.devices[i];
    const std::string resolved = ResolveHostPath(d.host_path);
    bool allowed = std::any_of(
        profile.devices.begin(), profile.devices.end(),
        [&](const std::string& p) { return !resolved.empty() && ResolveHostPath(p) == resolved; });
    if (!allowed) {
      std::set<std::string> devices(profile.devices.begin(), profile.devices.end());
      return v(fmt::format("is given host device {} (devices[{}]; allowed: {})", d.host_path, i,
                           Join(devices)));
    }
  }
  if (auto bad = CheckConfinement(s.apparmor, "AppArmor", profile.allow_unconfined_apparmor, false,
                                  prefix, v)) {
    return bad;
  }
  if (auto bad = CheckSeLinux(s.selinux, profile, prefix, v)) return bad;
  if (!profile.allow_unmasked_proc) {
    if (auto bad = CheckProc(s, v)) return bad;
  }
  if (auto bad = CheckConfinement(s.seccomp, "seccomp", profile.allow_unconfined_seccomp,
                                  restricted, prefix, v)) {
    return bad;
  }
  if (restricted) {
    if (!s.no_new_privs && !profile.allow_privilege_escalation) {
      return v(fmt::format("may gain privileges ({}no_new_privs must be true)", prefix));
    }
    if (!profile.allow_root) {
      auto level = [&](const std::string& what) { return v(what); };
      if (auto bad = CheckNonRoot(s, context.image, level)) return bad;
    }
  }
  return std::nullopt;
}

std::string ResolveHostPath(const std::string& path) { return ResolveHostPath(path, nullptr); }

std::string ResolveHostPath(const std::string& path, std::set<std::string>* known_real) {
  if (path.empty() || path[0] != '/') return {};
  // Components still to walk, in order; the resolved prefix has no symlinks.
  std::vector<std::string> todo;
  auto push_components = [&todo](const std::string& p) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= p.size()) {
      size_t slash = p.find('/', start);
      if (slash == std::string::npos) slash = p.size();
      if (slash > start) parts.push_back(p.substr(start, slash - start));
      start = slash + 1;
    }
    todo.insert(todo.begin(), parts.begin(), parts.end());
  };
  push_components(path);
  std::string resolved;  // "" is "/"
  bool exists = true;    // below a missing component nothing is a link
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.erase(todo.begin());
    if (part == ".") continue;
    if (part == "..") {
      size_t slash = resolved.rfind('/');
      resolved.resize(slash == std::string::npos ? 0 : slash);
      continue;
    }
    std::string next = resolved;
    next.append("/").append(part);
    if (exists && known_real && known_real->count(next)) {
      resolved = std::move(next);  // seen already in this decision: no link
      continue;
    }
    if (exists) {
      struct stat st {};
      if (lstat(next.c_str(), &st) != 0) {
        exists = false;
      } else if (S_ISLNK(st.st_mode)) {
        if (++links > 40) return {};
        std::string target(4096, '\0');
        ssize_t n = readlink(next.c_str(), target.data(), target.size());
        if (n <= 0 || static_cast<size_t>(n) >= target.size()) return {};
        target.resize(static_cast<size_t>(n));
        if (target[0] == '/') resolved.clear();
        push_components(target);
        continue;
      } else if (known_real && S_ISDIR(st.st_mode)) {
        known_real->insert(next);
      }
    }
    resolved = std::move(next);
  }
  return resolved.empty() ? "/" : resolved;
}

bool IsWithin(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

}  // namespace crigate::policy
