// Workload security: the Kubernetes Pod Security Standards (privileged,
// baseline, restricted) applied to the CRI fields containerd acts on.
//
// Pod Security Admission judges the Pod object at the API server, so it
// misses static pods, crictl and anything else that talks to the runtime
// directly. crigate judges the CRI request containerd will execute: pod-level
// fields at RunPodSandbox, and at CreateContainer the container's fields
// together with the real sandbox (its fields as containerd recorded them).
//
// Each trust rule carries a WorkloadProfile: a level ("baseline" unless the
// rule says otherwise) and per-rule exceptions that loosen or tighten single
// controls. privileged and the host namespaces are checked by the trust rule
// itself (allow_privileged, allow_host_*), which the privileged level turns on.
//
// A violation is one line naming the level, the control and the field, e.g.
//   restricted: container "web" adds capability SYS_ADMIN (allowed: NET_BIND_SERVICE)
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policy/gate.h"
#include "policy/image_resolver.h"

namespace crigate::policy {

enum class PssLevel { kPrivileged, kBaseline, kRestricted };

const char* PssLevelName(PssLevel level);
// "cap_sys_admin", "CAP_SYS_ADMIN" and "SYS_ADMIN" are one capability: "SYS_ADMIN".
std::string CapabilityName(std::string cap);
// "privileged", "baseline", "restricted"; nullopt for anything else.
std::optional<PssLevel> ParsePssLevel(std::string_view name);

struct AllowedHostPath {
  std::string path;       // absolute; the path and everything below it
  bool read_only = true;  // mounts of it must be read-only
};

struct WorkloadProfile {
  PssLevel level = PssLevel::kBaseline;
  // Loosen single controls.
  std::vector<AllowedHostPath> host_paths;  // hostPath mounts allowed (below these, resolved)
  std::set<std::string> capabilities;       // extra capabilities that may be added (no CAP_ prefix)
  std::vector<std::string> devices;         // host device paths that may be passed in
  std::set<int32_t> host_ports;             // host ports that may be mapped
  std::set<std::string> sysctls;            // sysctls beyond the safe set
  std::set<std::string> selinux_types;      // SELinux types beyond the container types
  bool allow_unconfined_seccomp = false;
  bool allow_unconfined_apparmor = false;
  bool allow_unmasked_proc = false;         // masked/readonly /proc paths may be emptied
  bool allow_root = false;                  // restricted: may run as uid 0
  bool allow_privilege_escalation = false;  // restricted: no_new_privs may be false
  // Tighten single controls.
  bool require_readonly_rootfs = false;
  bool require_non_root = false;
  bool require_no_new_privs = false;
};

// What the container checks need besides the request: where the pod's own
// volumes live, and the user the image runs as when the request names none.
struct WorkloadContext {
  // <kubelet root>/pods/<uid of the real sandbox>: kubelet passes every
  // volume (emptyDir, configMap, secret...) as a host path below it.
  std::string pod_dir;
  const ImageIdentity* image = nullptr;  // the image the node holds; may be null
};

// The pod-level controls (RunPodSandbox): sysctls, host ports, SELinux,
// seccomp, AppArmor, run_as_user. A reason, or nullopt when it complies.
std::optional<std::string> CheckPodSecurity(const WorkloadProfile& profile, const PodInfo& pod);

// The container controls (CreateContainer, StartContainer), with the real
// sandbox's own pod-level fields judged as well.
std::optional<std::string> CheckContainerSecurity(const WorkloadProfile& profile,
                                                  const ContainerInfo& container,
                                                  const PodInfo& pod,
                                                  const WorkloadContext& context);

// Resolves path as the kernel would when containerd mounts it: symlinks
// followed (at most 40), ".." taken from the resolved parent, and the part
// that does not exist yet (containerd creates it) appended as written, with
// "." and ".." applied to it. Empty when path is not absolute or a link
// cannot be read.
std::string ResolveHostPath(const std::string& path);
// The same, skipping the lstat of directories already in *known_real (found
// to be real directories earlier in the same decision) and adding those it
// finds; known_real may be null.
std::string ResolveHostPath(const std::string& path, std::set<std::string>* known_real);

// True when path is dir or below it (both resolved, no trailing slash).
bool IsWithin(std::string_view path, std::string_view dir);

}  // namespace crigate::policy
