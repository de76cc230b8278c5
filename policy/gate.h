// The face of the gate as the front end sees it: what a gated call looks like
// once inspected (GateRequest), what the gate answers (Decision), and the
// Pipeline that turns one into the other.
//
// GateRequest is proto-neutral on purpose: cri/ extracts these fields from the
// CRI subset, so policy/ can be tested without protobuf and a new CRI version
// changes only the extraction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/actions.h"
#include "policy/base/status.h"

namespace crigate::policy {

// Who is on the other end of the unix socket, from SO_PEERCRED at accept time.
struct Caller {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool known = false;  // false when credentials could not be read: treat as nobody
};

struct NamespaceModes {
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
};

// A seccomp or AppArmor setting as the request asks for it, from either of
// its CRI forms (the SecurityProfile message or the deprecated string).
struct Confinement {
  // kUnknown: a string form containerd does not recognise.
  enum class Kind { kUnset, kRuntimeDefault, kUnconfined, kLocalhost, kUnknown };
  Kind kind = Kind::kUnset;
  std::string localhost_ref;  // kLocalhost: the profile; kUnknown: the value sent
  std::string field;          // the CRI field that said so, for reasons
};

struct SeLinuxLabel {
  std::string user, role, type, level;
};

// The pod-level security fields containerd acts on (LinuxPodSandboxConfig).
struct PodSecurity {
  std::optional<int64_t> run_as_user;
  SeLinuxLabel selinux;
  std::vector<Confinement> seccomp;   // every form that was set
  std::vector<Confinement> apparmor;  // every form that was set
  std::map<std::string, std::string> sysctls;
  std::vector<int32_t> host_ports;  // port_mappings with a host port
};

struct MountRequest {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
};

struct DeviceRequest {
  std::string container_path;
  std::string host_path;
  std::string permissions;
};

// The container's security fields containerd acts on (ContainerConfig and
// its LinuxContainerSecurityContext).
struct ContainerSecurity {
  std::vector<std::string> add_capabilities;  // as sent
  std::vector<std::string> drop_capabilities;
  std::vector<std::string> ambient_capabilities;
  SeLinuxLabel selinux;
  std::optional<int64_t> run_as_user;
  std::string run_as_username;
  bool readonly_rootfs = false;
  bool no_new_privs = false;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::vector<Confinement> seccomp;
  std::vector<Confinement> apparmor;
  std::vector<MountRequest> mounts;
  std::vector<DeviceRequest> devices;
};

struct PodInfo {
  std::string name;
  std::string uid;
  std::string namespace_;
  uint32_t attempt = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  NamespaceModes host;
  bool privileged = false;
  std::string runtime_handler;
  PodSecurity security;
};

struct Resources {
  int64_t cpu_period = 0;  // 0: not set
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit_bytes = 0;
};

struct ContainerInfo {
  std::string name;
  uint32_t attempt = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  NamespaceModes host;
  bool privileged = false;
  std::vector<std::string> added_capabilities;
  std::vector<std::string> command;  // ContainerConfig.command, args
  std::vector<std::string> args;
  Resources resources;
  ContainerSecurity security;
};

struct GateRequest {
  std::string method;  // full gRPC path, "/runtime.v1.RuntimeService/CreateContainer"
  std::string action;  // the method's last segment, "CreateContainer"
  // Mutating calls run the stages that check every call (privilege); gated
  // calls run them all. Read-only calls reach the pipeline only when they
  // are not open (then they are mutating).
  MethodClass method_class = MethodClass::kGated;
  Caller caller;
  std::string image;  // image as the request names it (PullImage, RemoveImage, CreateContainer)
  // RunPodSandbox's config; for CreateContainer and PullImage the caller's
  // copy of the sandbox config, a claim that is checked against the real
  // sandbox (CallState::sandbox) and never judged itself.
  std::optional<PodInfo> pod;
  std::optional<ContainerInfo> container;  // CreateContainer, UpdateContainerResources
  std::string container_id;                // Start/Stop/Remove/Exec*/Attach/Update
  std::string pod_sandbox_id;              // CreateContainer, StopPodSandbox, PortForward...
  std::map<std::string, std::string> image_annotations;  // ImageSpec.annotations
  std::string bearer_token;  // from gRPC metadata "authorization: Bearer ..."
};

enum class Verdict { kAllow, kDeny, kError };

// What one stage said. Error means "no answer" (a dead cloud, an unreadable
// store); the pipeline maps it to a deny unless that stage is configured
// otherwise.
struct StageResult {
  Verdict verdict = Verdict::kAllow;
  base::Code code = base::Code::OK;
  std::string reason;

  static StageResult Allow(std::string reason = {}) {
    return {Verdict::kAllow, base::Code::OK, std::move(reason)};
  }
  static StageResult Deny(base::Code code, std::string reason) {
    return {Verdict::kDeny, code, std::move(reason)};
  }
  static StageResult Error(base::Code code, std::string reason) {
    return {Verdict::kError, code, std::move(reason)};
  }
};

struct StageRecord {
  std::string stage;
  StageResult result;
};

// Something a stage holds for one call that must count only if the call is
// allowed and its audit record written: a token use. The pipeline commits it
// before the allow goes out and releases it otherwise; the front end
// releases a committed one when containerd never ran the call.
class PendingUse {
 public:
  virtual ~PendingUse() = default;
  virtual base::Status Commit() = 0;         // durable when it returns OK
  virtual base::Status Release() = 0;        // forgets the use (durably, if committed)
  virtual std::string Describe() const = 0;  // "token jti 'x' for CreateContainer on ..."
};

struct Decision {
  bool allow = false;
  base::Code code = base::Code::OK;  // status returned to the caller on deny
  std::string reason;                // operator-readable; sent as the status message
  std::vector<StageRecord> stages;   // every stage that ran, in order
  std::string image_digest;          // resolved digest, when a stage resolved one
  std::string decision_id;           // the cloud's, when it answered
  std::chrono::microseconds latency{0};
  // Committed uses (tokens) of an allowed call, for the front end to release
  // if the call then never reaches containerd.
  std::vector<std::shared_ptr<PendingUse>> uses;
  // An allowed CreateContainer's verified token, kept by crigate for the
  // container's StartContainer (policy/token_grants.h); never audited.
  std::string token;
  // An allowed container-id call: the container and the digest of the
  // runtime spec the facts stage judged (shim/runtime_spec.h), for the
  // approval the shim wrapper checks.
  std::string container_id;
  std::string spec_digest;

  base::Status ToStatus() const { return allow ? base::Status::OK() : base::Status(code, reason); }
};

// A pod sandbox as containerd holds it (PodSandboxStatus, verbose): what a
// CreateContainer naming it by pod_sandbox_id will really run in.
struct ExistingSandbox {
  std::string id;   // containerd's full id (a request may name a unique prefix)
  PodInfo pod;      // metadata, labels, annotations, host namespaces, privileged
  int64_t pid = 0;  // the sandbox's pause process; 0 when not reported
};

// The container that a container-id call (StartContainer, StopContainer,
// Exec...) names, as the backend reports it (ContainerStatus verbose, plus
// PodSandboxStatus of its sandbox). Looked up at most once per call.
struct ExistingContainer {
  std::string id;        // containerd's full id
  std::string image;     // the image as the container was created with: a name or an image id
  std::string image_id;  // "sha256:...", the image id the container runs
  std::string pod_sandbox_id;
  std::string pod_namespace;  // empty when unknown
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;      // the container's
  std::map<std::string, std::string> pod_annotations;  // its sandbox's
  // The container's config and its sandbox's as containerd recorded them;
  // nullopt when containerd did not report them (verbose info missing).
  std::optional<ContainerInfo> config;
  std::optional<PodInfo> pod;
  // The OCI runtime spec containerd generated for it (compact JSON), which
  // is what runc will run; empty when containerd did not report it.
  std::string runtime_spec;
  int64_t sandbox_pid = 0;  // its pod sandbox's pause process
  // containerd CRI's root and state directories (Status verbose), where the
  // container's own bind mounts (hosts, resolv.conf, shm, volumes) live.
  std::vector<std::string> cri_dirs;
};

// Per-call state that stages fill in for the stages after them and for the
// audit record: e.g. the trust stage resolves the digest that the token stage
// binds and the cloud stage reports.
struct CallState {
  std::string image_ref;          // normalised reference, when the call names an image
  std::string image_digest;       // "sha256:..." the node holds (or the pull resolved)
  std::string token_subject;      // verified token's sub
  std::string token_id;           // verified token's jti
  std::string token_claims_json;  // verified claims, compact JSON, for the cloud request
  std::string token;              // the verified token itself; never audited
  std::string decision_id;        // the cloud's decision id
  // Every name the node holds for the resolved image: normalised repo tags,
  // repo digests ("name@sha256:...") and the image id. Empty when unresolved.
  std::vector<std::string> image_names;
  // The container a container-id call names, once a stage has looked it up.
  std::optional<ExistingContainer> existing_container;
  // The real sandbox behind a CreateContainer's pod_sandbox_id.
  std::optional<ExistingSandbox> sandbox;
  // "sha256:..." of the runtime spec the facts stage judged for a
  // StartContainer (shim/runtime_spec.h SpecDigest).
  std::string spec_digest;
  // Reserved by stages; committed or released by the pipeline.
  std::vector<std::shared_ptr<PendingUse>> pending_uses;
};

// One check in the chain. Thread-safe; Check must return within a bounded time.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual const char* name() const = 0;  // "privilege", "facts", "trust", "token", "cloud"
  virtual StageResult Check(const GateRequest& request, CallState& state) = 0;
  // True for a stage that every mutating call passes (privilege); the others
  // run for gated calls only.
  virtual bool checks_every_mutating_call() const { return false; }
  // True when this stage's Error (no answer) lets the call go on instead of
  // denying it. Only the cloud stage may offer this (its failure_mode_allow);
  // privilege, trust and token keep the default.
  virtual bool failure_mode_allow() const { return false; }
  // A stage never changes once built: a reload builds a new StageSet
  // (pipeline.h) from the new files and swaps it in whole.
};

// Thread-safe: Decide is called concurrently from gRPC's callback threads.
// It must answer within its own bounded time (the cloud stage has a timeout);
// it writes the audit record before it returns.
class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual Decision Decide(const GateRequest& request) = 0;
  // Records a call refused before any stage ran (a request that does not
  // parse) and returns its deny decision: every refusal leaves an audit record.
  virtual Decision Reject(const GateRequest& request, base::Code code, const std::string& reason) {
    Decision d;
    d.code = code;
    d.reason = reason;
    return d;
  }
};

// The pipeline used until policy is configured: allows everything, records
// nothing. Kept so the front end can run (and be tested) without policy.
class AllowAllPipeline final : public Pipeline {
 public:
  Decision Decide(const GateRequest&) override {
    Decision d;
    d.allow = true;
    d.reason = "no policy configured";
    return d;
  }
};

}  // namespace crigate::policy
