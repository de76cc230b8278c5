// The daemon's half of "no bypass": while crigate forwards an allowed
// StartContainer or RunPodSandbox, it writes the approval the shim wrapper
// (shim/main.cc) needs to let containerd start that one task, and removes it
// when the call returns. A start crigate denied, or one sent straight to
// containerd, finds no approval and is refused by the shim.
//
//   StartContainer   approval "c-<id>": the container id and the digest of
//                    the runtime spec the facts stage judged (Decision).
//   RunPodSandbox    approval "s-<pod>": the pod's namespace/name/uid and the
//                    shape its sandbox spec must have: the sandbox image's
//                    command, the host namespaces and privilege crigate
//                    judged, containerd's own directories for bind mounts.
//
// Approvals live in a root-only directory (approval.dir), never in the
// request, so nothing readable through containerd carries one. The
// [approval] settings are in approval_config.h.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cri/call_hooks.h"
#include "cri/daemon/approval_config.h"
#include "cri/daemon/backend_resolver.h"
#include "policy/base/latest.h"
#include "shim/approval.h"
#include "shim/approval_store.h"

namespace crigate::cri {

// Signs and writes approvals. Thread-safe.
class ApprovalIssuer {
 public:
  // Each approval is signed with the key key gives at that moment (a reload
  // swaps a new one in).
  ApprovalIssuer(const ApprovalConfig& config, base::Source<shim::ApprovalKey> key);
  // With the key of config.key_file for good.
  static base::Result<std::unique_ptr<ApprovalIssuer>> Create(const ApprovalConfig& config);

  // Writes `record` with expiry now + ttl. INTERNAL when it cannot be
  // written (the call must then not be forwarded).
  base::Status Write(shim::ApprovalRecord record) const;
  bool Remove(const std::string& name) const { return shim::RemoveApproval(dir_, name); }
  // Approvals left by a previous crigate process; returns how many.
  int Clear() const { return shim::ClearApprovals(dir_); }

  const std::string& key_file() const { return key_file_; }
  const std::string& dir() const { return dir_; }
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  // Constant after construction.
  const std::string key_file_;
  const std::string dir_;
  const std::chrono::seconds ttl_;
  const base::Source<shim::ApprovalKey> key_;
};

// What containerd will run for a pod sandbox. Thread-safe; bounded time.
class SandboxFacts {
 public:
  virtual ~SandboxFacts() = default;
  virtual policy::Result<CriRuntimeConfig> RuntimeConfig() = 0;
  virtual policy::Result<std::vector<std::string>> ImageCommand(const std::string& image) = 0;
  // The sandbox image is pulled by containerd inside the first RunPodSandbox
  // on a fresh node; its command is needed before that.
  virtual base::Status PullImage(const std::string& image) = 0;
};

// BackendResolver's answers (containerd's Status and ImageStatus, verbose).
class BackendSandboxFacts final : public SandboxFacts {
 public:
  explicit BackendSandboxFacts(BackendResolver* resolver) : resolver_(resolver) {}
  policy::Result<CriRuntimeConfig> RuntimeConfig() override { return resolver_->RuntimeConfig(); }
  policy::Result<std::vector<std::string>> ImageCommand(const std::string& image) override {
    return resolver_->ImageCommand(image);
  }
  base::Status PullImage(const std::string& image) override {
    return resolver_->PullImage(image, std::chrono::minutes(2));
  }

 private:
  BackendResolver* const resolver_;
};

class ApprovalMinter final : public RequestRewriter {
 public:
  // Both must outlive the minter.
  ApprovalMinter(const ApprovalIssuer* issuer, SandboxFacts* facts);

  // Writes the approval for an allowed StartContainer or RunPodSandbox; the
  // request itself is forwarded unchanged. Any failure is returned as the
  // call's status: the call is refused rather than forwarded unapproved.
  base::Status Rewrite(const policy::GateRequest& request, const policy::Decision& decision,
                       std::string_view in, std::string* out, bool* rewritten) override;
  // Removes the approval the shim did not take (the start failed before it,
  // or containerd never got the call).
  void Done(const policy::GateRequest& request, const policy::Decision& decision) override;

  // The approval's file name for an allowed call; empty for other actions.
  static std::string NameFor(const policy::GateRequest& request, const policy::Decision& decision);

 private:
  base::Status ApproveSandbox(const policy::GateRequest& request);
  base::Status ApproveContainer(const policy::GateRequest& request,
                                const policy::Decision& decision);

  const ApprovalIssuer* const issuer_;
  SandboxFacts* const facts_;
};

}  // namespace crigate::cri
