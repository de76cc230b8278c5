// The gate's signed approval of one sandbox or container start, shared by the
// crigate daemon (which mints it on the RunPodSandbox / CreateContainer
// requests it allows) and containerd-shim-crigate-v2 (which verifies it in the
// OCI spec before it lets containerd-shim-runc-v2 start the task).
//
// An approval binds exactly what containerd 1.6's CRI plugin writes into the
// OCI spec annotations itself, after any pass-through annotation, so a client
// cannot choose them (pkg/cri/server/sandbox_run_linux.go, container_create_linux.go):
//   io.kubernetes.cri.container-type   sandbox | container     -> kind
//   io.kubernetes.cri.sandbox-namespace / -name / -uid         -> pod_*
//   io.kubernetes.cri.sandbox-id       (containers)            -> sandbox_id
//   io.kubernetes.cri.container-name   (containers)            -> container_name
//   io.kubernetes.cri.image-name       (containers)            -> image
// The approval itself reaches the spec through the runtime's pod_annotations /
// container_annotations lists (shim/containerd-runtime.toml.in).
//
// Token: "v1.<s|c>.<expiry unix seconds>.<nonce>.<mac>", where nonce is 12
// random bytes and mac is HMAC-SHA256 over a length-prefixed encoding of
// every field, the kind, the expiry and the nonce; both base64url without
// padding. The nonce makes every approval unique, so the shim can refuse a
// second start with the same approval.
//
// Nothing here throws; every failure is an ApprovalStatus with a one-line
// reason written for the operator who reads containerd's log or the audit log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crigate::shim {

// The annotation crigate adds to PodSandboxConfig.annotations (RunPodSandbox)
// and ContainerConfig.annotations (CreateContainer).
inline constexpr char kApprovalAnnotation[] = "crigate.io/approval";
inline constexpr char kDefaultApprovalKeyPath[] = "/etc/crigate/approval.key";
// Long enough for kubelet's CreateContainer -> StartContainer and for a pod
// start; short, because an approval can be read back (ContainerStatus) until
// it expires. The shim also refuses a second start with the same approval.
inline constexpr std::chrono::seconds kDefaultApprovalTtl{300};
inline constexpr size_t kMinApprovalKeyBytes = 32;

// Three outcomes, as everywhere in crigate: OK; Refused (the approval says
// no: missing, expired, not matching); Error (no answer: the key cannot be
// read, the RNG failed). The shim refuses the start on both.
class [[nodiscard]] ApprovalStatus {
 public:
  static ApprovalStatus Ok() { return ApprovalStatus(Code::kOk, {}); }
  static ApprovalStatus Refused(std::string reason) {
    return ApprovalStatus(Code::kRefused, std::move(reason));
  }
  static ApprovalStatus Error(std::string reason) {
    return ApprovalStatus(Code::kError, std::move(reason));
  }

  bool ok() const { return code_ == Code::kOk; }
  bool refused() const { return code_ == Code::kRefused; }
  bool error() const { return code_ == Code::kError; }
  const std::string& reason() const { return reason_; }  // empty when ok()

 private:
  enum class Code { kOk, kRefused, kError };
  ApprovalStatus(Code code, std::string reason) : code_(code), reason_(std::move(reason)) {}

  Code code_;
  std::string reason_;
};

// The HMAC key: at least kMinApprovalKeyBytes random bytes. Wiped on destruction.
class ApprovalKey {
 public:
  ApprovalKey() = default;
  explicit ApprovalKey(std::string bytes) : bytes_(std::move(bytes)) {}
  ApprovalKey(const ApprovalKey&) = default;
  ApprovalKey& operator=(const ApprovalKey&) = default;
  ApprovalKey(ApprovalKey&&) noexcept = default;
  ApprovalKey& operator=(ApprovalKey&&) noexcept = default;
  ~ApprovalKey();

  bool empty() const { return bytes_.empty(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Reads the key file at `path`. Error unless it is a regular file owned by
// `required_owner` (root in production; tests pass geteuid()), with no
// group/other permission bits, holding kMinApprovalKeyBytes..4096 bytes.
ApprovalStatus LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner = 0);

// Creates `path` (it must not exist) holding 32 fresh random bytes, mode 0600,
// owned by the caller. For install scripts and tests.
ApprovalStatus CreateApprovalKey(const std::string& path);

enum class ApprovalKind { kSandbox, kContainer };

// What an approval is bound to. Strings are compared byte for byte: the
// daemon must fill them with exactly what containerd will write (see each).
struct ApprovalFields {
  ApprovalKind kind = ApprovalKind::kSandbox;
  // PodSandboxConfig.metadata, verbatim: RunPodSandboxRequest.config.metadata
  // for a sandbox, CreateContainerRequest.sandbox_config.metadata for a
  // container (containerd 1.6 takes the container's pod fields from the
  // request, not from the sandbox it stored).
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  // Containers only, empty for a sandbox:
  // CreateContainerRequest.pod_sandbox_id as containerd's full 64-hex id
  // (containerd accepts a unique prefix, but writes the full id).
  std::string sandbox_id;
  // ContainerConfig.metadata.name.
  std::string container_name;
  // What containerd names the image in the spec: ContainerdImageName() of
  // the image's ImageStatus.
  std::string image;
};

ApprovalFields SandboxApprovalFields(std::string pod_namespace, std::string pod_name,
                                     std::string pod_uid);
ApprovalFields ContainerApprovalFields(std::string pod_namespace, std::string pod_name,
                                       std::string pod_uid, std::string sandbox_id,
                                       std::string container_name, std::string image);

// The name containerd 1.6 writes as io.kubernetes.cri.image-name:
// References[0] of its CRI image store entry, i.e. the first of the image's
// references ranked name:tag@digest, name:tag, name@digest, (name), id and
// then byte order (pkg/cri/store/image/sort.go). Computed from what
// ImageStatus reports for the image (id, repo_tags, repo_digests). Empty when
// all three are empty. An image known only by an untagged name (never the
// case for images CRI pulled) gets a different name in the spec, and its
// approval fails closed.
std::string ContainerdImageName(const std::string& image_id,
                                const std::vector<std::string>& repo_tags,
                                const std::vector<std::string>& repo_digests);

// Mints an approval for `fields`, valid until now + ttl. Error on an empty key,
// ttl <= 0, missing container fields, or a sandbox_id that is not a full id.
ApprovalStatus MintApproval(
    const ApprovalKey& key, const ApprovalFields& fields, std::chrono::seconds ttl,
    std::string* token,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// What a verified approval says, for the shim's record of used approvals.
struct VerifiedApproval {
  int64_t expires_unix = 0;
  std::string id;  // unique per approval (its mac), safe as a file name
};

// Checks `token` against the fields read from the spec. Refused with the
// reason when it is malformed, for the other kind, signed over other fields
// or with another key, or expired at `now`. The mac is compared in constant
// time before the expiry is believed.
ApprovalStatus VerifyApproval(const ApprovalKey& key, const ApprovalFields& from_spec,
                              std::string_view token, std::chrono::system_clock::time_point now,
                              VerifiedApproval* verified = nullptr);

// Reads the approval and the bound fields from an OCI spec's annotations.
// Refused when there is no approval ("not started through crigate") or the
// CRI annotations that say what the task is are missing.
ApprovalStatus ApprovalFromSpecAnnotations(const std::map<std::string, std::string>& annotations,
                                           ApprovalFields* fields, std::string* token);

// "sandbox default/web" or "container default/web/nginx", for reasons and logs.
std::string DescribeApprovalFields(const ApprovalFields& fields);

}  // namespace crigate::shim
