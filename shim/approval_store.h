// The gate's approvals of task starts, kept where containerd cannot show
// them: one file per approval in a root-only directory on the host
// (/run/crigate/approvals), written by crigate while it forwards an allowed
// StartContainer or RunPodSandbox, and taken (renamed away, read, unlinked)
// by the shim wrapper when containerd starts the task. crigate removes what
// is left when the call returns, so an approval lives for one call at most.
//
// Two kinds:
//   c-<container id>        a container: bound to the container id and the
//                           digest of its runtime spec (runtime_spec.h), as
//                           containerd recorded it when crigate judged it.
//   s-<sha256 of the pod>   a pod sandbox: containerd picks its id and writes
//                           its spec inside RunPodSandbox, so the approval is
//                           keyed by the pod's namespace, name and uid and
//                           binds the shape crigate judged: the pause
//                           command, host namespaces, privilege, containerd's
//                           own directories for bind mounts.
//
// Each record is JSON with an HMAC-SHA256 (the approval key) over its
// canonical form, so a file that the daemon did not write is worth nothing
// even if the directory's permissions are ever wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shim/approval.h"
#include "shim/runtime_spec.h"

namespace crigate::shim {

inline constexpr char kDefaultApprovalDir[] = "/run/crigate/approvals";

struct SandboxShape {
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::vector<std::string> args;  // the sandbox image's entrypoint + cmd
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
  bool privileged = false;
  // containerd CRI's root and state directories (Status verbose
  // rootDir/stateDir): the sandbox's bind mounts come from
  // <dir>/sandboxes/<sandbox id>/.
  std::vector<std::string> containerd_dirs;

  // The rules a sandbox spec with this task id must fit.
  ShapeRules Rules(const std::string& sandbox_id) const;
};

// containerd's namespace for everything its CRI plugin creates.
inline constexpr char kCriNamespace[] = "k8s.io";

struct ApprovalRecord {
  ApprovalKind kind = ApprovalKind::kContainer;
  // The containerd namespace the task must start in (the shim's -namespace):
  // a task of the same id or pod in another namespace is not the one crigate
  // judged.
  std::string containerd_namespace = kCriNamespace;
  std::string container_id;  // containers
  std::string spec_digest;   // containers: SpecDigest()
  SandboxShape sandbox;      // sandboxes
  int64_t expires_unix = 0;
};

// File names. Empty when the id cannot be one (containerd's ids are
// [A-Za-z0-9][A-Za-z0-9._-]*, at most 76 bytes).
std::string ContainerApprovalName(const std::string& container_id);
std::string SandboxApprovalName(const std::string& pod_namespace, const std::string& pod_name,
                                const std::string& pod_uid);
std::string ApprovalName(const ApprovalRecord& record);

// Writes `record` under `dir` (created 0700 if missing; it must be a
// directory owned by the caller and writable by no one else), replacing an
// earlier approval of the same name atomically.
base::Status WriteApproval(const std::string& dir, const ApprovalKey& key,
                           const ApprovalRecord& record);

// Takes the approval `name` out of `dir`: once taken it is gone, whatever
// the check below says. Refused when there is none ("crigate did not allow
// this start"), when its MAC does not verify, or when it expired at
// now_unix. Error when the directory cannot be used.
base::Status TakeApproval(const std::string& dir, const std::string& name, const ApprovalKey& key,
                          int64_t now_unix, ApprovalRecord* record);

// Creates `dir` (mode 0700) and any missing parents (0755), like a
// `mkdir -p` whose last directory is private. Ok when it already exists.
base::Status MakePrivateDir(const std::string& dir);

// Checks one approval record's text (what TakeApproval read from the file
// `name`): Refused when it is not a record, its MAC does not verify with
// `key`, or it expired at now_unix.
base::Status ParseApprovalRecord(std::string_view text, const std::string& name,
                                 const ApprovalKey& key, int64_t now_unix, ApprovalRecord* record);

// Signs a record's JSON text as WriteApproval does (adds its "mac"), for
// tests and the fuzzer. Error when the text is not a JSON object.
base::Status SignApprovalRecordText(std::string_view json_text, const ApprovalKey& key,
                                    std::string* signed_text);

// Opens `dir` (creating it with MakePrivateDir when `create`), which must be
// a directory owned by the caller with no group or other access. *fd_out is
// O_RDONLY | O_DIRECTORY | O_CLOEXEC.
base::Status OpenPrivateDir(const std::string& dir, bool create, int* fd_out);

// Removes an approval that was not taken (the call failed before the start).
// True when there was one.
bool RemoveApproval(const std::string& dir, const std::string& name);

// Removes every approval in `dir` (at crigate's start: the calls they were
// written for died with the previous process). Returns how many.
int ClearApprovals(const std::string& dir);

}  // namespace crigate::shim
