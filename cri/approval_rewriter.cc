#include "cri/approval_rewriter.h"

#include <fmt/format.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/slice.h>
#include <unistd.h>

#include <utility>

#include "cri/inspect.h"
#include "cri_subset.pb.h"
#include "policy/toml_fields.h"

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;

// containerd's ids are 64 lowercase hex digits; anything shorter is a prefix
// containerd would expand, so it must be expanded here too.
bool IsFullId(const std::string& id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <typename T>
grpc::Status ParseRequest(const char* action, const grpc::ByteBuffer& in, T* message) {
  if (!ParseMessage(in, message)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        fmt::format("crigate: the {} request is not a valid {} message", action,
                                    message->GetTypeName()));
  }
  return grpc::Status::OK;
}

grpc::Status Encode(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  return EncodeMessage(message, out);
}

// Keeps a resolver's code for NOT_FOUND (the client named something that is
// not there) and reports everything else as "could not answer".
grpc::Status LookupFailed(std::string_view what, const grpc::Status& s) {
  const grpc::StatusCode code = s.error_code() == grpc::StatusCode::NOT_FOUND
                                    ? grpc::StatusCode::NOT_FOUND
                                    : grpc::StatusCode::UNAVAILABLE;
  return grpc::Status(
      code, fmt::format("crigate: cannot approve the container: {}: {}", what, s.error_message()));
}

}  // namespace

ApprovalConfig ParseApprovalConfig(const toml::table& root, std::vector<std::string>& errors) {
  ApprovalConfig config;
  const toml::table* table = policy::SectionOf(root, "approval", errors);
  if (table == nullptr) return config;
  policy::TomlFields fields(table, "approval", errors);
  fields.RejectUnknown({"enabled", "key_file", "ttl_seconds"});
  fields.Bool("enabled", config.enabled);
  fields.String("key_file", config.key_file);
  if (config.key_file.empty() || config.key_file[0] != '/') {
    fields.Error("key_file", "must be an absolute path");
  }
  // An approval can be read back (ContainerStatus) until it expires; a day is
  // far more than any CreateContainer -> StartContainer needs.
  int64_t ttl = config.ttl.count();
  fields.Int("ttl_seconds", 1, 86400, ttl);
  config.ttl = std::chrono::seconds(ttl);
  return config;
}

ApprovalIssuer::ApprovalIssuer(std::string key_file, std::chrono::seconds ttl,
                               std::shared_ptr<const shim::ApprovalKey> key)
    : key_file_(std::move(key_file)), ttl_(ttl), key_(std::move(key)) {}

std::unique_ptr<ApprovalIssuer> ApprovalIssuer::Create(const ApprovalConfig& config,
                                                       std::string* error) {
  auto key = std::make_shared<shim::ApprovalKey>();
  // Owned by the daemon's user (root in production, as for the shim), and
  // readable by nobody else.
  const shim::ApprovalStatus s = shim::LoadApprovalKey(config.key_file, key.get(), geteuid());
  if (!s.ok()) {
    *error = s.reason();
    return nullptr;
  }
  return std::unique_ptr<ApprovalIssuer>(new ApprovalIssuer(config.key_file, config.ttl, key));
}

grpc::Status ApprovalIssuer::Reload() {
  auto key = std::make_shared<shim::ApprovalKey>();
  const shim::ApprovalStatus s = shim::LoadApprovalKey(key_file_, key.get(), geteuid());
  if (!s.ok()) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, s.reason());
  std::lock_guard lock(mu_);
  key_ = std::move(key);
  return grpc::Status::OK;
}

grpc::Status ApprovalIssuer::Mint(const shim::ApprovalFields& fields, std::string* token) const {
  std::shared_ptr<const shim::ApprovalKey> key;
  {
    std::lock_guard lock(mu_);
    key = key_;
  }
  const shim::ApprovalStatus s = shim::MintApproval(*key, fields, ttl_, token);
  if (!s.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        fmt::format("crigate: cannot approve the {}: {}",
                                    shim::DescribeApprovalFields(fields), s.reason()));
  }
  return grpc::Status::OK;
}

BackendSandboxIds::BackendSandboxIds(std::shared_ptr<grpc::Channel> backend,
                                     std::chrono::milliseconds timeout)
    : runtime_(v1::RuntimeService::NewStub(std::move(backend))), timeout_(timeout) {}

policy::Result<std::string> BackendSandboxIds::FullSandboxId(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  v1::PodSandboxStatusResponse resp;
  const grpc::Status s = runtime_->PodSandboxStatus(&ctx, req, &resp);
  if (!s.ok()) {
    return grpc::Status(s.error_code() == grpc::StatusCode::NOT_FOUND
                            ? grpc::StatusCode::NOT_FOUND
                            : grpc::StatusCode::UNAVAILABLE,
                        fmt::format("containerd PodSandboxStatus failed: {}", s.error_message()));
  }
  if (!IsFullId(resp.status().id())) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        fmt::format("containerd PodSandboxStatus for {} named no full id", id));
  }
  return resp.status().id();
}

ApprovalRewriter::ApprovalRewriter(const ApprovalIssuer* issuer, policy::ImageResolver* images,
                                   SandboxIdResolver* sandboxes)
    : issuer_(issuer), images_(images), sandboxes_(sandboxes) {}

grpc::Status ApprovalRewriter::Rewrite(const policy::GateRequest& request,
                                       const grpc::ByteBuffer& in, grpc::ByteBuffer* out,
                                       bool* rewritten) {
  *rewritten = false;
  grpc::Status s;
  if (request.action == "RunPodSandbox") {
    s = ApproveSandbox(in, out);
  } else if (request.action == "CreateContainer") {
    s = ApproveContainer(in, out);
  } else {
    return grpc::Status::OK;
  }
  *rewritten = s.ok();
  return s;
}

grpc::Status ApprovalRewriter::ApproveSandbox(const grpc::ByteBuffer& in, grpc::ByteBuffer* out) {
  v1::RunPodSandboxRequest req;
  if (grpc::Status s = ParseRequest("RunPodSandbox", in, &req); !s.ok()) return s;
  // containerd writes the sandbox-namespace/-name/-uid annotations from this
  // very metadata (sandbox_run_linux.go).
  const v1::PodSandboxMetadata& pod = req.config().metadata();
  std::string token;
  if (grpc::Status s = issuer_->Mint(
          shim::SandboxApprovalFields(pod.namespace_(), pod.name(), pod.uid()), &token);
      !s.ok()) {
    return s;
  }
  (*req.mutable_config()->mutable_annotations())[shim::kApprovalAnnotation] = std::move(token);
  return Encode(req, out);
}

grpc::Status ApprovalRewriter::ApproveContainer(const grpc::ByteBuffer& in, grpc::ByteBuffer* out) {
  v1::CreateContainerRequest req;
  if (grpc::Status s = ParseRequest("CreateContainer", in, &req); !s.ok()) return s;
  if (req.pod_sandbox_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "crigate: CreateContainer names no pod sandbox");
  }
  // containerd writes the full id into the spec whatever prefix it was given.
  std::string sandbox_id = req.pod_sandbox_id();
  if (!IsFullId(sandbox_id)) {
    policy::Result<std::string> full = sandboxes_->FullSandboxId(sandbox_id);
    if (!full.ok()) return LookupFailed("pod sandbox " + sandbox_id, full.status());
    sandbox_id = std::move(full).value();
  }
  // ...and the image as the first of its references (ContainerdImageName).
  const std::string& image_ref = req.config().image().image();
  policy::Result<policy::ImageIdentity> image = images_->Image(image_ref);
  if (!image.ok()) return LookupFailed("image " + image_ref, image.status());
  const std::string image_name =
      shim::ContainerdImageName(image->id, image->repo_tags, image->repo_digests);
  // The pod fields come from the request's sandbox_config, not from the
  // stored sandbox: containerd 1.6 writes them from there too.
  const v1::PodSandboxMetadata& pod = req.sandbox_config().metadata();
  std::string token;
  if (grpc::Status s = issuer_->Mint(
          shim::ContainerApprovalFields(pod.namespace_(), pod.name(), pod.uid(), sandbox_id,
                                        req.config().metadata().name(), image_name),
          &token);
      !s.ok()) {
    return s;
  }
  (*req.mutable_config()->mutable_annotations())[shim::kApprovalAnnotation] = std::move(token);
  return Encode(req, out);
}

}  // namespace crigate::cri
