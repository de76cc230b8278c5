// The trust store: an ordered list of rules on normalised image references,
// loaded from its own TOML file. Immutable once loaded; a reload builds a new
// one (see TrustStage).
//
//   [[rule]]
//   name = "busybox"                          # for reasons and audit; default "rule[i]"
//   image = "docker.io/library/busybox:*"     # NAME[:TAG][@DIGEST] globs, see below
//   registry = "docker.io"                    # glob over the registry (host[:port])
//   repository = "library/*"                  # glob over the repository path
//   digests = ["sha256:<64 hex>"]             # pinned: the node's image must be one of them
//   namespaces = ["default", "edge-*"]        # globs over the pod's namespace
//   max_cpu_millicores = 500                  # ceiling on the CPU limit (quota/period)
//   max_memory_bytes = 268435456              # ceiling on the memory limit
//   allow_privileged = false
//   allow_host_network = false
//   allow_host_pid = false
//   allow_host_ipc = false
//   actions = ["CreateContainer", "StartContainer"]  # the rule applies to these only
//   profile = "baseline"                      # Pod Security Standards level: privileged,
//                                             # baseline (the default) or restricted
//   # exceptions that loosen one control (policy/workload_profile.h):
//   host_paths = [{ path = "/srv/data", read_only = true }]
//   allow_capabilities = ["NET_ADMIN"]        # beyond the level's set
//   allowed_devices = ["/dev/ttyUSB0"]
//   allowed_host_ports = [8443]
//   allowed_sysctls = ["net.core.somaxconn"]
//   allowed_selinux_types = ["spc_t"]
//   allow_unconfined_seccomp = false          # also allow_unconfined_apparmor,
//                                             # allow_unmasked_proc, allow_root,
//                                             # allow_privilege_escalation
//   # and that tighten one (at every level):
//   require_readonly_rootfs = false           # also require_non_root, require_no_new_privs
//
// Globs are fnmatch(3) with no flags: '*' also matches '/'. A rule needs at
// least one of image, registry, repository; all that are set must match.
// image is split after its last '/' into a NAME glob (over the normalised
// "registry/repository"), an optional TAG glob and an optional DIGEST glob:
// "docker.io/library/*" is every tag and digest of every library image;
// "docker.io/library/busybox:1.*" only tags 1.*; a TAG glob of "*" also
// matches a reference that carries a digest and no tag. An image pattern
// with no glob characters is normalised first ("busybox" means
// docker.io/library/busybox:latest).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policy/image_ref.h"
#include "policy/workload_profile.h"

namespace crigate::policy {

struct TrustRule {
  std::string name;
  std::string image;       // glob; empty: any
  std::string registry;    // glob; empty: any
  std::string repository;  // glob; empty: any
  std::vector<std::string> digests;
  std::vector<std::string> namespaces;
  std::optional<int64_t> max_cpu_millicores;
  std::optional<int64_t> max_memory_bytes;
  bool allow_privileged = false;
  bool allow_host_network = false;
  bool allow_host_pid = false;
  bool allow_host_ipc = false;
  std::set<std::string> actions;  // empty: every action
  WorkloadProfile workload;       // the PSS level and its exceptions

  // Image globs only (an id never matches: resolve it to its names first).
  bool MatchesImage(const ImageRef& ref) const;
  bool AppliesTo(std::string_view action) const;
  bool Pins(std::string_view digest) const;
  bool AllowsNamespace(std::string_view pod_namespace) const;
};

class TrustStore final {
 public:
  // Reads and validates path. Null with one message per problem in errors
  // ("path: rule[2].digests[0]: ..."); a store with no rule is valid and
  // denies everything.
  static std::shared_ptr<const TrustStore> Load(const std::string& path,
                                                std::vector<std::string>& errors);
  static std::shared_ptr<const TrustStore> Parse(const toml::table& root, const std::string& source,
                                                 std::vector<std::string>& errors);

  // The first rule, in file order, whose image globs match ref and that
  // applies to action; null when none does.
  const TrustRule* Match(const ImageRef& ref, std::string_view action) const;
  // The first rule that matches any of refs (one image known by several
  // names); *which is the index of the name it matched.
  const TrustRule* MatchAny(const std::vector<ImageRef>& refs, std::string_view action,
                            size_t* which) const;

  const std::vector<TrustRule>& rules() const { return rules_; }
  const std::string& source() const { return source_; }

 private:
  TrustStore(std::vector<TrustRule> rules, std::string source)
      : rules_(std::move(rules)), source_(std::move(source)) {}

  const std::vector<TrustRule> rules_;
  const std::string source_;
};

}  // namespace crigate::policy
