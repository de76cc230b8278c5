#include "cri/backend_resolver.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;
using nlohmann::json;

// containerd 1.6 answers a verbose status with info["info"], a JSON object
// whose "config" is the CRI config it recorded at creation, marshalled by Go's
// encoding/json: snake_case names, enums as numbers, zero values omitted.
const json* Member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringAt(const json& object, const char* key) {
  const json* v = Member(object, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

int64_t IntAt(const json& object, const char* key) {
  const json* v = Member(object, key);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

bool BoolAt(const json& object, const char* key) {
  const json* v = Member(object, key);
  return v && v->is_boolean() && v->get<bool>();
}

const json& ObjectAt(const json& object, const char* key) {
  static const json kEmpty = json::object();
  const json* v = Member(object, key);
  return v && v->is_object() ? *v : kEmpty;
}

std::map<std::string, std::string> StringMapAt(const json& object, const char* key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : ObjectAt(object, key).items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

policy::NamespaceModes HostModesAt(const json& security) {
  const json& ns = ObjectAt(security, "namespace_options");
  constexpr int64_t kNode = v1::NODE;
  return {IntAt(ns, "network") == kNode, IntAt(ns, "pid") == kNode, IntAt(ns, "ipc") == kNode};
}

// The verbose info object, or null when containerd sent none or it does not parse.
std::optional<json> VerboseInfo(const google::protobuf::Map<std::string, std::string>& info) {
  auto it = info.find("info");
  if (it == info.end()) return std::nullopt;
  json parsed = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  return parsed;
}

policy::PodInfo PodFromRecorded(const json& config) {
  policy::PodInfo pod;
  const json& metadata = ObjectAt(config, "metadata");
  pod.name = StringAt(metadata, "name");
  pod.uid = StringAt(metadata, "uid");
  pod.namespace_ = StringAt(metadata, "namespace");
  pod.attempt = static_cast<uint32_t>(IntAt(metadata, "attempt"));
  pod.labels = StringMapAt(config, "labels");
  pod.annotations = StringMapAt(config, "annotations");
  const json& security = ObjectAt(ObjectAt(config, "linux"), "security_context");
  pod.host = HostModesAt(security);
  pod.privileged = BoolAt(security, "privileged");
  return pod;
}

policy::ContainerInfo ContainerFromRecorded(const json& config) {
  policy::ContainerInfo c;
  const json& metadata = ObjectAt(config, "metadata");
  c.name = StringAt(metadata, "name");
  c.attempt = static_cast<uint32_t>(IntAt(metadata, "attempt"));
  c.labels = StringMapAt(config, "labels");
  c.annotations = StringMapAt(config, "annotations");
  const json& linux_config = ObjectAt(config, "linux");
  const json& security = ObjectAt(linux_config, "security_context");
  c.host = HostModesAt(security);
  c.privileged = BoolAt(security, "privileged");
  const json* add = Member(ObjectAt(security, "capabilities"), "add_capabilities");
  if (add && add->is_array()) {
    for (const json& cap : *add) {
      if (cap.is_string()) c.added_capabilities.push_back(cap.get<std::string>());
    }
  }
  const json& res = ObjectAt(linux_config, "resources");
  c.resources.cpu_period = IntAt(res, "cpu_period");
  c.resources.cpu_quota = IntAt(res, "cpu_quota");
  c.resources.cpu_shares = IntAt(res, "cpu_shares");
  c.resources.memory_limit_bytes = IntAt(res, "memory_limit_in_bytes");
  return c;
}

grpc::Status BackendFailed(const char* call, const grpc::Status& s) {
  // NOT_FOUND from containerd keeps its meaning; anything else is "could not
  // answer", which the stages treat as an error (fail closed).
  grpc::StatusCode code = s.error_code() == grpc::StatusCode::NOT_FOUND
                              ? grpc::StatusCode::NOT_FOUND
                              : grpc::StatusCode::UNAVAILABLE;
  return grpc::Status(code, fmt::format("containerd {} failed: {}", call, s.error_message()));
}

}  // namespace

BackendResolver::BackendResolver(std::shared_ptr<grpc::Channel> backend,
                                 std::chrono::milliseconds timeout)
    : runtime_(v1::RuntimeService::NewStub(backend)),
      images_(v1::ImageService::NewStub(backend)),
      timeout_(timeout) {}

void BackendResolver::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
}

policy::Result<policy::ImageIdentity> BackendResolver::Image(const std::string& image) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  grpc::Status s = images_->ImageStatus(&ctx, req, &resp);
  if (!s.ok()) return BackendFailed("ImageStatus", s);
  if (!resp.has_image() || resp.image().id().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        fmt::format("image {} is not on this node", image));
  }
  policy::ImageIdentity identity;
  identity.id = resp.image().id();
  identity.repo_tags.assign(resp.image().repo_tags().begin(), resp.image().repo_tags().end());
  identity.repo_digests.assign(resp.image().repo_digests().begin(),
                               resp.image().repo_digests().end());
  return identity;
}

policy::Result<policy::ExistingContainer> BackendResolver::Container(
    const std::string& container_id) {
  policy::ExistingContainer out;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ContainerStatusRequest req;
    req.set_container_id(container_id);
    req.set_verbose(true);
    v1::ContainerStatusResponse resp;
    grpc::Status s = runtime_->ContainerStatus(&ctx, req, &resp);
    if (!s.ok()) return BackendFailed("ContainerStatus", s);
    const auto& st = resp.status();
    out.id = st.id();
    // status.image is the first tag the node holds for the image id, which
    // need not be the reference the container was created with; the
    // recorded config says what was asked for.
    out.image = st.image().image();
    out.labels.insert(st.labels().begin(), st.labels().end());
    out.annotations.insert(st.annotations().begin(), st.annotations().end());
    if (std::optional<json> info = VerboseInfo(resp.info())) {
      const json& config = ObjectAt(*info, "config");
      if (!config.empty()) {
        out.config = ContainerFromRecorded(config);
        std::string created_with = StringAt(ObjectAt(config, "image"), "image");
        if (!created_with.empty()) out.image = std::move(created_with);
      }
    }
  }
  {
    // ContainerStatus names neither the image id for certain nor the sandbox:
    // ListContainers does (image_ref is the image id in containerd 1.6).
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListContainersRequest req;
    req.mutable_filter()->set_id(out.id);
    v1::ListContainersResponse resp;
    grpc::Status s = runtime_->ListContainers(&ctx, req, &resp);
    if (!s.ok()) return BackendFailed("ListContainers", s);
    if (resp.containers_size() != 1) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          fmt::format("container {} is not on this node", container_id));
    }
    out.pod_sandbox_id = resp.containers(0).pod_sandbox_id();
    out.image_id = resp.containers(0).image_ref();
  }
  if (out.image_id.rfind("sha256:", 0) != 0) {
    auto image = Image(out.image_id.empty() ? out.image : out.image_id);
    if (!image.ok()) return image.status();
    out.image_id = image->id;
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    policy::Result<policy::ExistingSandbox> sandbox = Sandbox(out.pod_sandbox_id);
    if (!sandbox.ok()) return sandbox.status();
    out.pod_namespace = sandbox->pod.namespace_;
    out.pod_annotations = sandbox->pod.annotations;
    out.pod = std::move(sandbox->pod);
  }
  return out;
}

policy::Result<policy::ExistingSandbox> BackendResolver::Sandbox(const std::string& sandbox_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  req.set_verbose(true);
  v1::PodSandboxStatusResponse resp;
  grpc::Status s = runtime_->PodSandboxStatus(&ctx, req, &resp);
  if (!s.ok()) return BackendFailed("PodSandboxStatus", s);
  const auto& st = resp.status();
  if (st.id().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        fmt::format("pod sandbox {} is not on this node", sandbox_id));
  }
  std::optional<json> info = VerboseInfo(resp.info());
  const json* config = info ? Member(*info, "config") : nullptr;
  if (!config || !config->is_object()) {
    // Without the recorded config the host namespaces and privilege are
    // unknown: refuse to judge rather than guess.
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        fmt::format("containerd's PodSandboxStatus for {} has no verbose config",
                                    sandbox_id));
  }
  policy::ExistingSandbox out;
  out.id = st.id();
  out.pod = PodFromRecorded(*config);
  // The status's own fields are containerd's record too; they win if the two differ.
  out.pod.name = st.metadata().name();
  out.pod.uid = st.metadata().uid();
  out.pod.namespace_ = st.metadata().namespace_();
  out.pod.attempt = st.metadata().attempt();
  out.pod.labels = std::map<std::string, std::string>(st.labels().begin(), st.labels().end());
  out.pod.annotations =
      std::map<std::string, std::string>(st.annotations().begin(), st.annotations().end());
  out.pod.runtime_handler = st.runtime_handler();
  return out;
}

}  // namespace crigate::cri
