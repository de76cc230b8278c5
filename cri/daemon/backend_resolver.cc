#include "cri/daemon/backend_resolver.h"

#include <fmt/format.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <nlohmann/json.hpp>

#include "cri/inspect.h"
#include "cri_subset.grpc.pb.h"
#include "policy/base/metrics.h"

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

const json& ObjectAt(const json& object, const char* key) {
  static const json kEmpty = json::object();
  const json* v = Member(object, key);
  return v && v->is_object() ? *v : kEmpty;
}

base::Status BackendFailed(const char* call, const grpc::Status& s) {
  // NOT_FOUND from containerd keeps its meaning; anything else is "could not
  // answer", which the stages treat as an error (fail closed).
  base::Code code = s.error_code() == grpc::StatusCode::NOT_FOUND ? base::Code::NOT_FOUND
                                                                  : base::Code::UNAVAILABLE;
  return base::Status(code, fmt::format("containerd {} failed: {}", call, s.error_message()));
}

// The verbose info object, or null when containerd sent none or it does not parse.
std::optional<json> VerboseInfo(const google::protobuf::Map<std::string, std::string>& info) {
  auto it = info.find("info");
  if (it == info.end()) return std::nullopt;
  json parsed = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  return parsed;
}

}  // namespace

struct BackendResolver::Stubs {
  std::unique_ptr<v1::RuntimeService::Stub> runtime;
  std::unique_ptr<v1::ImageService::Stub> images;
};

namespace {

base::HistogramFamily& LookupDurations() {
  static base::HistogramFamily& durations = base::DefaultRegistry().Histograms(
      "crigate_containerd_lookup_duration_seconds",
      "Facts asked of containerd for a decision, by CRI method (a retry after a dead "
      "connection included).",
      {"method"});
  return durations;
}

base::Counter& LookupUnavailable() {
  static base::Counter& unavailable =
      base::DefaultRegistry()
          .Counters("crigate_backend_unavailable_total",
                    "Calls or lookups that found containerd unavailable, by who met it "
                    "(front_end: a call answered UNAVAILABLE; lookup: a fact asked of "
                    "containerd).",
                    {"via"})
          .With({"lookup"});
  return unavailable;
}

}  // namespace

BackendResolver::BackendResolver(const std::shared_ptr<grpc::Channel>& backend,
                                 std::chrono::milliseconds timeout)
    : stubs_(new Stubs{v1::RuntimeService::NewStub(backend), v1::ImageService::NewStub(backend)}),
      timeout_(timeout) {
  LookupUnavailable();  // exported from the start, at 0
}

BackendResolver::~BackendResolver() = default;

grpc::Status BackendResolver::Lookup(
    const char* method, const std::function<grpc::Status(grpc::ClientContext*)>& call) const {
  const auto start = std::chrono::steady_clock::now();
  grpc::Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    s = call(&ctx);
    // A lookup reads only, so it is asked again once when the connection
    // it went out on had died (containerd restarted since the last one):
    // grpc notices a dead connection only when a call fails on it.
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
  }
  LookupDurations().With({method}).ObserveSeconds(std::chrono::steady_clock::now() - start);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) LookupUnavailable().Inc();
  return s;
}

policy::Result<policy::ImageIdentity> BackendResolver::Image(const std::string& image) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  v1::ImageStatusResponse resp;
  grpc::Status s = Lookup("ImageStatus", [&](grpc::ClientContext* ctx) {
    return stubs_->images->ImageStatus(ctx, req, &resp);
  });
  if (!s.ok()) return BackendFailed("ImageStatus", s);
  if (!resp.has_image() || resp.image().id().empty()) {
    return base::Status(base::Code::NOT_FOUND, fmt::format("image {} is not on this node", image));
  }
  policy::ImageIdentity identity;
  identity.id = resp.image().id();
  if (resp.image().has_uid()) identity.uid = resp.image().uid().value();
  identity.username = resp.image().username();
  identity.repo_tags.assign(resp.image().repo_tags().begin(), resp.image().repo_tags().end());
  identity.repo_digests.assign(resp.image().repo_digests().begin(),
                               resp.image().repo_digests().end());
  return identity;
}

policy::Result<policy::ExistingContainer> BackendResolver::Container(
    const std::string& container_id) {
  policy::ExistingContainer out;
  {
    v1::ContainerStatusRequest req;
    req.set_container_id(container_id);
    req.set_verbose(true);
    v1::ContainerStatusResponse resp;
    grpc::Status s = Lookup("ContainerStatus", [&](grpc::ClientContext* ctx) {
      return stubs_->runtime->ContainerStatus(ctx, req, &resp);
    });
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
        v1::ContainerConfig recorded;
        base::Status parsed = MessageFromRecordedJson(config.dump(), &recorded);
        if (!parsed.ok()) return parsed;
        out.config = ContainerFromConfig(recorded);
        if (!recorded.image().image().empty()) out.image = recorded.image().image();
      }
      const json& spec = ObjectAt(*info, "runtimeSpec");
      if (!spec.empty()) out.runtime_spec = spec.dump();
    }
  }
  {
    // ContainerStatus names neither the image id for certain nor the sandbox:
    // ListContainers does (image_ref is the image id in containerd 1.6).
    v1::ListContainersRequest req;
    req.mutable_filter()->set_id(out.id);
    v1::ListContainersResponse resp;
    grpc::Status s = Lookup("ListContainers", [&](grpc::ClientContext* ctx) {
      return stubs_->runtime->ListContainers(ctx, req, &resp);
    });
    if (!s.ok()) return BackendFailed("ListContainers", s);
    if (resp.containers_size() != 1) {
      return base::Status(base::Code::NOT_FOUND,
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
    policy::Result<policy::ExistingSandbox> sandbox = Sandbox(out.pod_sandbox_id);
    if (!sandbox.ok()) return sandbox.status();
    out.sandbox_pid = sandbox->pid;
    out.pod_namespace = sandbox->pod.namespace_;
    out.pod_annotations = sandbox->pod.annotations;
    out.pod = std::move(sandbox->pod);
  }
  if (!out.runtime_spec.empty()) {
    policy::Result<CriRuntimeConfig> cri = RuntimeConfig();
    if (!cri.ok()) return cri.status();
    out.cri_dirs = {cri->root_dir, cri->state_dir};
  }
  return out;
}

policy::Result<std::string> BackendResolver::Answers(std::chrono::milliseconds timeout) {
  v1::VersionRequest req;
  v1::VersionResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status s = stubs_->runtime->Version(&ctx, req, &resp);
  if (!s.ok()) return BackendFailed("Version", s);
  return resp.runtime_name() + " " + resp.runtime_version();
}

policy::Result<CriRuntimeConfig> BackendResolver::RuntimeConfig() {
  {
    std::lock_guard lock(mu_);
    if (runtime_config_) return *runtime_config_;
  }
  v1::StatusRequest req;
  req.set_verbose(true);
  v1::StatusResponse resp;
  grpc::Status s = Lookup(
      "Status", [&](grpc::ClientContext* ctx) { return stubs_->runtime->Status(ctx, req, &resp); });
  if (!s.ok()) return BackendFailed("Status", s);
  CriRuntimeConfig out;
  const auto it = resp.info().find("config");
  const json config = it == resp.info().end()
                          ? json()
                          : json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  auto string_at = [&](const char* key) {
    const json* v = Member(config, key);
    return v && v->is_string() ? v->get<std::string>() : std::string();
  };
  out.sandbox_image = string_at("sandboxImage");
  out.root_dir = string_at("rootDir");
  out.state_dir = string_at("stateDir");
  if (out.sandbox_image.empty() || out.root_dir.empty() || out.state_dir.empty() ||
      out.root_dir[0] != '/' || out.state_dir[0] != '/') {
    return base::Status(base::Code::UNAVAILABLE,
                        "containerd's verbose Status names no sandboxImage, rootDir and stateDir");
  }
  // Fixed for the life of a containerd process; a restart with another
  // config is rare enough that crigate's restart picks it up.
  std::lock_guard lock(mu_);
  runtime_config_ = out;
  return out;
}

policy::Result<std::vector<std::string>> BackendResolver::ImageCommand(const std::string& image) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  req.set_verbose(true);
  v1::ImageStatusResponse resp;
  grpc::Status s = Lookup("ImageStatus", [&](grpc::ClientContext* ctx) {
    return stubs_->images->ImageStatus(ctx, req, &resp);
  });
  if (!s.ok()) return BackendFailed("ImageStatus", s);
  std::optional<json> info = VerboseInfo(resp.info());
  if (!resp.has_image() || !info) {
    return base::Status(base::Code::NOT_FOUND, fmt::format("image {} is not on this node", image));
  }
  // containerd runs Entrypoint followed by Cmd (sandbox_run_linux.go).
  const json& config = ObjectAt(ObjectAt(*info, "imageSpec"), "config");
  std::vector<std::string> command;
  for (const char* key : {"Entrypoint", "Cmd"}) {
    const json* list = Member(config, key);
    if (!list || !list->is_array()) continue;
    for (const json& v : *list) {
      if (v.is_string()) command.push_back(v.get<std::string>());
    }
  }
  if (command.empty()) {
    return base::Status(base::Code::UNAVAILABLE, fmt::format("image {} names no command", image));
  }
  return command;
}

base::Status BackendResolver::PullImage(const std::string& image,
                                        std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  v1::PullImageResponse resp;
  grpc::Status s = stubs_->images->PullImage(&ctx, req, &resp);
  return s.ok() ? base::Status::OK() : BackendFailed("PullImage", s);
}

policy::Result<policy::ExistingSandbox> BackendResolver::Sandbox(const std::string& sandbox_id) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  req.set_verbose(true);
  v1::PodSandboxStatusResponse resp;
  grpc::Status s = Lookup("PodSandboxStatus", [&](grpc::ClientContext* ctx) {
    return stubs_->runtime->PodSandboxStatus(ctx, req, &resp);
  });
  if (!s.ok()) return BackendFailed("PodSandboxStatus", s);
  const auto& st = resp.status();
  if (st.id().empty()) {
    return base::Status(base::Code::NOT_FOUND,
                        fmt::format("pod sandbox {} is not on this node", sandbox_id));
  }
  std::optional<json> info = VerboseInfo(resp.info());
  const json* config = info ? Member(*info, "config") : nullptr;
  if (!config || !config->is_object()) {
    // Without the recorded config the host namespaces and privilege are
    // unknown: refuse to judge rather than guess.
    return base::Status(
        base::Code::UNAVAILABLE,
        fmt::format("containerd's PodSandboxStatus for {} has no verbose config", sandbox_id));
  }
  v1::PodSandboxConfig recorded;
  base::Status parsed = MessageFromRecordedJson(config->dump(), &recorded);
  if (!parsed.ok()) return parsed;
  policy::ExistingSandbox out;
  out.id = st.id();
  out.pod = PodFromConfig(recorded);
  // The status's own fields are containerd's record too; they win if the two differ.
  out.pod.name = st.metadata().name();
  out.pod.uid = st.metadata().uid();
  out.pod.namespace_ = st.metadata().namespace_();
  out.pod.attempt = st.metadata().attempt();
  out.pod.labels = std::map<std::string, std::string>(st.labels().begin(), st.labels().end());
  out.pod.annotations =
      std::map<std::string, std::string>(st.annotations().begin(), st.annotations().end());
  out.pod.runtime_handler = st.runtime_handler();
  if (const json* pid = Member(*info, "pid"); pid && pid->is_number_integer()) {
    out.pid = pid->get<int64_t>();
  }
  return out;
}

}  // namespace crigate::cri
