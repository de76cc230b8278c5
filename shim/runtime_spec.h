// What an approval binds in the OCI runtime spec (config.json) containerd
// hands the shim, and the shape checks both sides apply to it.
//
// The digest covers the parts of the spec that decide what the task can do
// on the host: process (args, env, cwd, user, capabilities, noNewPrivileges,
// apparmorProfile, selinuxLabel, rlimits, oomScoreAdj), mounts, root (path,
// readonly), hooks, and linux (namespaces, uid/gid mappings, devices,
// seccomp, sysctl, maskedPaths, readonlyPaths, mountLabel,
// rootfsPropagation, personality, resources.devices), plus the container id.
// It is computed from the parsed JSON with sorted keys and no whitespace,
// never from the file's bytes, so crigate (which reads the spec from
// containerd's ContainerStatus verbose info) and the shim (which reads
// config.json) agree whatever the encoder's key order or spacing. Fields not
// bound, and why, are listed in the README's no-bypass section.
//
// Shared by the daemon and containerd-shim-crigate-v2: no gRPC, no threads.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shim/approval.h"

namespace crigate::shim {

inline constexpr size_t kMaxSpecBytes = 4 << 20;

// Parses a runtime spec. Error when it is not a JSON object.
base::Status ParseRuntimeSpec(std::string_view text, nlohmann::json* spec);

// Reads and parses a config.json of at most kMaxSpecBytes.
base::Status ReadRuntimeSpec(const std::string& path, nlohmann::json* spec);

// The bound subset of `spec` with the container id, canonical JSON.
std::string BoundSpec(const nlohmann::json& spec, std::string_view container_id);

// "sha256:<64 hex>" of BoundSpec. Empty only if the digest itself fails.
std::string SpecDigest(const nlohmann::json& spec, std::string_view container_id);

// containerd's CRI annotation naming what a task is: "sandbox",
// "container", or empty when the spec has none (not created by CRI).
std::string CriContainerType(const nlohmann::json& spec);
std::string SpecAnnotation(const nlohmann::json& spec, const char* name);

// What the spec of a CRI task may hold, given what crigate judged. Anything
// outside it is refused with a reason that names the field.
struct ShapeRules {
  // process.args must equal this when check_args.
  bool check_args = false;
  std::vector<std::string> args;
  // Namespace types ("network", "pid", "ipc") that may be left out of
  // linux.namespaces, i.e. shared with the host; "uts" goes with "network",
  // "mount" never may.
  std::set<std::string> host_namespaces;
  // A namespace entry with a path must start with this (the pod sandbox's
  // "/proc/<pid>/ns/"); empty: no entry may name a path.
  std::string namespace_path_prefix;
  // A "network" entry's path may also lie under one of these (a pod
  // sandbox's network namespace, which CNI set up: /var/run/netns/cni-...).
  std::vector<std::string> network_path_prefixes;
  // Privileged tasks may carry any capability and any device.
  bool privileged = false;
  // Capabilities beyond containerd's 14 defaults ("CAP_SYS_TIME"; "ALL").
  std::set<std::string> extra_capabilities;
  // A bind mount's source must be one of these or lie under one of the
  // prefixes (each ending in '/').
  std::set<std::string> bind_sources;
  std::vector<std::string> bind_prefixes;
  // linux.devices paths a non-privileged task may have.
  std::set<std::string> device_paths;
};

// Empty when the spec fits; otherwise why not, for the operator.
std::string CheckSpecShape(const nlohmann::json& spec, const ShapeRules& rules);

// containerd 1.6's default capability set (oci/spec.go populateDefaultUnixSpec).
const std::set<std::string>& DefaultCapabilities();

}  // namespace crigate::shim
