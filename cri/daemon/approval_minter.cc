#include "cri/daemon/approval_minter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <utility>

#include "policy/base/toml_fields.h"

namespace crigate::cri {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keeps a lookup's NOT_FOUND and reports everything else as "could not answer".
// To the caller: NOT_FOUND stays, anything else is containerd being
// unavailable.
base::Status LookupFailed(std::string_view what, const base::Status& s) {
  const base::Code code =
      s.code() == base::Code::NOT_FOUND ? base::Code::NOT_FOUND : base::Code::UNAVAILABLE;
  return base::Status(code, fmt::format("crigate: cannot approve the {}: {}", what, s.message()));
}

}  // namespace

ApprovalConfig ParseApprovalConfig(const toml::table& root, std::vector<std::string>& errors) {
  ApprovalConfig config;
  const toml::table* table = base::SectionOf(root, "approval", errors);
  if (table == nullptr) return config;
  base::TomlFields fields(table, "approval", errors);
  fields.RejectUnknown({"enabled", "key_file", "dir", "ttl_seconds"});
  fields.Bool("enabled", config.enabled);
  fields.String("key_file", config.key_file);
  if (config.key_file.empty() || config.key_file[0] != '/') {
    fields.Error("key_file", "must be an absolute path");
  }
  fields.String("dir", config.dir);
  if (config.dir.empty() || config.dir[0] != '/') fields.Error("dir", "must be an absolute path");
  // An approval is removed when its call returns; the expiry only bounds one
  // that a crash left behind, so it need not outlast a slow start by much.
  int64_t ttl = config.ttl.count();
  fields.Int("ttl_seconds", 1, 3600, ttl);
  config.ttl = std::chrono::seconds(ttl);
  return config;
}

base::Result<std::shared_ptr<const shim::ApprovalKey>> LoadApprovalKey(
    const std::string& key_file) {
  auto key = std::make_shared<shim::ApprovalKey>();
  // Owned by the daemon's user (root in production, as for the shim), and
  // readable by nobody else.
  const base::Status s = shim::LoadApprovalKey(key_file, key.get(), geteuid());
  if (!s.ok()) return s;
  return std::shared_ptr<const shim::ApprovalKey>(std::move(key));
}

ApprovalIssuer::ApprovalIssuer(const ApprovalConfig& config, base::Source<shim::ApprovalKey> key)
    : key_file_(config.key_file), dir_(config.dir), ttl_(config.ttl), key_(std::move(key)) {}

base::Result<std::unique_ptr<ApprovalIssuer>> ApprovalIssuer::Create(const ApprovalConfig& config) {
  base::Result<std::shared_ptr<const shim::ApprovalKey>> key = LoadApprovalKey(config.key_file);
  if (!key.ok()) return key.status();
  return std::make_unique<ApprovalIssuer>(config, base::FixedSource(std::move(key).value()));
}

base::Status ApprovalIssuer::Write(shim::ApprovalRecord record) const {
  const std::shared_ptr<const shim::ApprovalKey> key = key_();
  record.expires_unix = UnixNow() + ttl_.count();
  const base::Status s = shim::WriteApproval(dir_, *key, record);
  if (!s.ok()) {
    return base::Status(base::Code::INTERNAL,
                        fmt::format("crigate: cannot write the start's approval: {}", s.message()));
  }
  return base::Status::OK();
}

ApprovalMinter::ApprovalMinter(const ApprovalIssuer* issuer, SandboxFacts* facts)
    : issuer_(issuer), facts_(facts) {}

std::string ApprovalMinter::NameFor(const policy::GateRequest& request,
                                    const policy::Decision& decision) {
  if (request.action == "StartContainer") return shim::ContainerApprovalName(decision.container_id);
  if (request.action == "RunPodSandbox" && request.pod) {
    return shim::SandboxApprovalName(request.pod->namespace_, request.pod->name, request.pod->uid);
  }
  return {};
}

base::Status ApprovalMinter::Rewrite(const policy::GateRequest& request,
                                     const policy::Decision& decision, std::string_view,
                                     std::string*, bool* rewritten) {
  *rewritten = false;
  if (request.action == "RunPodSandbox") return ApproveSandbox(request);
  if (request.action == "StartContainer") return ApproveContainer(request, decision);
  return base::Status::OK();
}

void ApprovalMinter::Done(const policy::GateRequest& request, const policy::Decision& decision) {
  const std::string name = NameFor(request, decision);
  if (!name.empty()) issuer_->Remove(name);
}

base::Status ApprovalMinter::ApproveContainer(const policy::GateRequest& request,
                                              const policy::Decision& decision) {
  if (decision.container_id.empty() || decision.spec_digest.empty()) {
    return base::Status(
        base::Code::FAILED_PRECONDITION,
        fmt::format("crigate: cannot approve the start of container {}: containerd reported no "
                    "runtime spec for the facts stage to judge",
                    request.container_id));
  }
  shim::ApprovalRecord record;
  record.kind = shim::ApprovalKind::kContainer;
  record.container_id = decision.container_id;
  record.spec_digest = decision.spec_digest;
  return issuer_->Write(std::move(record));
}

base::Status ApprovalMinter::ApproveSandbox(const policy::GateRequest& request) {
  if (!request.pod) {
    return base::Status(base::Code::INVALID_ARGUMENT,
                        "crigate: RunPodSandbox carries no pod config");
  }
  policy::Result<CriRuntimeConfig> cri = facts_->RuntimeConfig();
  if (!cri.ok()) return LookupFailed("pod sandbox", cri.status());
  policy::Result<std::vector<std::string>> command = facts_->ImageCommand(cri->sandbox_image);
  if (!command.ok() && command.code() == base::Code::NOT_FOUND) {
    // A fresh node: containerd would pull it inside this very call.
    if (base::Status pulled = facts_->PullImage(cri->sandbox_image); !pulled.ok()) {
      return LookupFailed("pod sandbox (pulling sandbox image " + cri->sandbox_image + ")", pulled);
    }
    command = facts_->ImageCommand(cri->sandbox_image);
  }
  if (!command.ok()) {
    return LookupFailed("pod sandbox (sandbox image " + cri->sandbox_image + ")", command.status());
  }
  shim::ApprovalRecord record;
  record.kind = shim::ApprovalKind::kSandbox;
  shim::SandboxShape& shape = record.sandbox;
  shape.pod_namespace = request.pod->namespace_;
  shape.pod_name = request.pod->name;
  shape.pod_uid = request.pod->uid;
  shape.args = std::move(command).value();
  shape.host_network = request.pod->host.host_network;
  shape.host_pid = request.pod->host.host_pid;
  shape.host_ipc = request.pod->host.host_ipc;
  shape.privileged = request.pod->privileged;
  shape.containerd_dirs = {cri->root_dir, cri->state_dir};
  return issuer_->Write(std::move(record));
}

}  // namespace crigate::cri
