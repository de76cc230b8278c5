// The daemon's half of "no bypass": every RunPodSandbox and CreateContainer
// the gate allows leaves with the gate's signed approval in its
// config.annotations ("crigate.io/approval", shim/approval.h), and
// containerd-shim-crigate-v2 refuses to start any task whose OCI spec lacks
// a valid one. A request sent straight to containerd has no approval, or one
// that does not match what containerd writes into the spec.
//
// [approval] in crigate's TOML file:
//   enabled = false                          true: mint approvals (needs the shim)
//   key_file = "/etc/crigate/approval.key"   the key the shim verifies with
//   ttl_seconds = 300                        how long an approval is valid
#pragma once

#include <grpcpp/channel.h>
#include <toml++/toml.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cri/proxy.h"
#include "cri_subset.grpc.pb.h"
#include "policy/image_resolver.h"
#include "shim/approval.h"

namespace crigate::cri {

struct ApprovalConfig {
  bool enabled = false;  // off: existing setups without a key keep working
  std::string key_file = shim::kDefaultApprovalKeyPath;
  std::chrono::seconds ttl = shim::kDefaultApprovalTtl;
};

// Reads root's [approval]; one message per bad key in errors, each naming
// the key ("approval.ttl_seconds: ..."); unknown keys are errors.
ApprovalConfig ParseApprovalConfig(const toml::table& root, std::vector<std::string>& errors);

// Mints approvals with the key from key_file, which must be owned by the
// user the daemon runs as (root) with no group/other access. Thread-safe;
// Reload swaps the key atomically, so calls keep flowing during a SIGHUP.
class ApprovalIssuer {
 public:
  // Null with the reason in *error when the key cannot be loaded.
  static std::unique_ptr<ApprovalIssuer> Create(const ApprovalConfig& config, std::string* error);

  // Re-reads key_file; on failure the previous key stays in use.
  grpc::Status Reload();

  // INTERNAL when minting fails (the request must then not be forwarded).
  grpc::Status Mint(const shim::ApprovalFields& fields, std::string* token) const;

  const std::string& key_file() const { return key_file_; }
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  ApprovalIssuer(std::string key_file, std::chrono::seconds ttl,
                 std::shared_ptr<const shim::ApprovalKey> key);

  // Constant after construction.
  const std::string key_file_;
  const std::chrono::seconds ttl_;

  mutable std::mutex mu_;
  std::shared_ptr<const shim::ApprovalKey> key_;  // guarded by mu_
};

// containerd's full id of the pod sandbox a CreateContainer names (which may
// be a unique prefix of it). Thread-safe; each call returns within a bounded
// time.
class SandboxIdResolver {
 public:
  virtual ~SandboxIdResolver() = default;
  // NOT_FOUND when no sandbox has that id; any other error when the backend
  // could not answer.
  virtual policy::Result<std::string> FullSandboxId(const std::string& id) = 0;
};

// Asks containerd (PodSandboxStatus, which takes a prefix) with a deadline.
class BackendSandboxIds final : public SandboxIdResolver {
 public:
  BackendSandboxIds(std::shared_ptr<grpc::Channel> backend, std::chrono::milliseconds timeout);
  policy::Result<std::string> FullSandboxId(const std::string& id) override;

 private:
  const std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  const std::chrono::milliseconds timeout_;
};

// For an allowed RunPodSandbox or CreateContainer: parses the request (fields
// the CRI subset lacks are kept as unknown fields and re-encoded byte for
// byte), sets config.annotations["crigate.io/approval"] to a fresh approval
// for exactly what containerd will write into the spec (replacing whatever
// the client sent there), and re-encodes it. Other actions pass unchanged.
// Any failure is returned as the call's status: the call is refused rather
// than forwarded without an approval.
class ApprovalRewriter final : public RequestRewriter {
 public:
  // All three must outlive the rewriter.
  ApprovalRewriter(const ApprovalIssuer* issuer, policy::ImageResolver* images,
                   SandboxIdResolver* sandboxes);

  grpc::Status Rewrite(const policy::GateRequest& request, const grpc::ByteBuffer& in,
                       grpc::ByteBuffer* out, bool* rewritten) override;

 private:
  grpc::Status ApproveSandbox(const grpc::ByteBuffer& in, grpc::ByteBuffer* out);
  grpc::Status ApproveContainer(const grpc::ByteBuffer& in, grpc::ByteBuffer* out);

  const ApprovalIssuer* const issuer_;
  policy::ImageResolver* const images_;
  SandboxIdResolver* const sandboxes_;
};

}  // namespace crigate::cri
