#include "cri/inspect.h"

#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>

#include <limits>

#include "cri_subset.pb.h"
#include "policy/token.h"

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;
using StringMap = google::protobuf::Map<std::string, std::string>;

std::map<std::string, std::string> ToMap(const StringMap& in) {
  return std::map<std::string, std::string>(in.begin(), in.end());
}

policy::NamespaceModes HostModes(const v1::NamespaceOption& ns) {
  policy::NamespaceModes modes;
  modes.host_network = ns.network() == v1::NODE;
  modes.host_pid = ns.pid() == v1::NODE;
  modes.host_ipc = ns.ipc() == v1::NODE;
  return modes;
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return std::vector<std::string>(in.begin(), in.end());
}

policy::SeLinuxLabel SeLinuxFrom(const v1::SELinuxOption& o) {
  return {o.user(), o.role(), o.type(), o.level()};
}

// The SecurityProfile message, then the deprecated string form: both are
// kept (either may be what containerd acts on), each naming its field.
std::vector<policy::Confinement> ConfinementsFrom(bool has_profile,
                                                  const v1::SecurityProfile& profile,
                                                  const std::string& profile_field,
                                                  const std::string& legacy,
                                                  const std::string& legacy_field) {
  using Kind = policy::Confinement::Kind;
  std::vector<policy::Confinement> out;
  if (has_profile) {
    policy::Confinement c;
    c.field = profile_field;
    switch (profile.profile_type()) {
      case v1::SecurityProfile::Unconfined:
        c.kind = Kind::kUnconfined;
        break;
      case v1::SecurityProfile::Localhost:
        c.kind = Kind::kLocalhost;
        c.localhost_ref = profile.localhost_ref();
        break;
      default:
        c.kind = Kind::kRuntimeDefault;
        break;
    }
    out.push_back(std::move(c));
  }
  if (!legacy.empty()) {
    policy::Confinement c;
    c.field = legacy_field;
    constexpr std::string_view kLocalhost = "localhost/";
    if (legacy == "unconfined") {
      c.kind = Kind::kUnconfined;
    } else if (legacy == "runtime/default" || legacy == "docker/default") {
      c.kind = Kind::kRuntimeDefault;
    } else if (legacy.compare(0, kLocalhost.size(), kLocalhost) == 0) {
      c.kind = Kind::kLocalhost;
      c.localhost_ref = legacy.substr(kLocalhost.size());
    } else {
      // A value containerd does not know is not a confinement the gate can vouch for.
      c.kind = Kind::kUnknown;
      c.localhost_ref = legacy;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

policy::PodInfo PodFromConfig(const v1::PodSandboxConfig& config) {
  policy::PodInfo pod;
  pod.name = config.metadata().name();
  pod.uid = config.metadata().uid();
  pod.namespace_ = config.metadata().namespace_();
  pod.attempt = config.metadata().attempt();
  pod.labels = ToMap(config.labels());
  pod.annotations = ToMap(config.annotations());
  const auto& security = config.linux().security_context();
  pod.host = HostModes(security.namespace_options());
  pod.privileged = security.privileged();
  policy::PodSecurity& out = pod.security;
  if (security.has_run_as_user()) out.run_as_user = security.run_as_user().value();
  out.selinux = SeLinuxFrom(security.selinux_options());
  out.seccomp = ConfinementsFrom(security.has_seccomp(), security.seccomp(), "seccomp",
                                 security.seccomp_profile_path(), "seccomp_profile_path");
  out.apparmor = ConfinementsFrom(security.has_apparmor(), security.apparmor(), "apparmor", "", "");
  out.sysctls = ToMap(config.linux().sysctls());
  for (const auto& port : config.port_mappings()) {
    if (port.host_port() != 0) out.host_ports.push_back(port.host_port());
  }
  return pod;
}

policy::ContainerInfo ContainerFromConfig(const v1::ContainerConfig& config) {
  policy::ContainerInfo container;
  container.name = config.metadata().name();
  container.attempt = config.metadata().attempt();
  container.labels = ToMap(config.labels());
  container.annotations = ToMap(config.annotations());
  const auto& security = config.linux().security_context();
  container.host = HostModes(security.namespace_options());
  container.privileged = security.privileged();
  container.added_capabilities = ToVector(security.capabilities().add_capabilities());
  container.command = ToVector(config.command());
  container.args = ToVector(config.args());
  const auto& res = config.linux().resources();
  container.resources.cpu_period = res.cpu_period();
  container.resources.cpu_quota = res.cpu_quota();
  container.resources.cpu_shares = res.cpu_shares();
  container.resources.memory_limit_bytes = res.memory_limit_in_bytes();
  policy::ContainerSecurity& out = container.security;
  out.add_capabilities = container.added_capabilities;
  out.drop_capabilities = ToVector(security.capabilities().drop_capabilities());
  out.ambient_capabilities = ToVector(security.capabilities().add_ambient_capabilities());
  out.selinux = SeLinuxFrom(security.selinux_options());
  if (security.has_run_as_user()) out.run_as_user = security.run_as_user().value();
  out.run_as_username = security.run_as_username();
  out.readonly_rootfs = security.readonly_rootfs();
  out.no_new_privs = security.no_new_privs();
  out.masked_paths = ToVector(security.masked_paths());
  out.readonly_paths = ToVector(security.readonly_paths());
  out.seccomp = ConfinementsFrom(security.has_seccomp(), security.seccomp(), "seccomp",
                                 security.seccomp_profile_path(), "seccomp_profile_path");
  out.apparmor = ConfinementsFrom(security.has_apparmor(), security.apparmor(), "apparmor",
                                  security.apparmor_profile(), "apparmor_profile");
  for (const auto& m : config.mounts()) {
    out.mounts.push_back({m.container_path(), m.host_path(), m.readonly()});
  }
  for (const auto& d : config.devices()) {
    out.devices.push_back({d.container_path(), d.host_path(), d.permissions()});
  }
  return container;
}

base::Status MessageFromRecordedJson(const std::string& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!parsed.ok()) {
    return base::Status::Unavailable(fmt::format("containerd's recorded {} does not parse: {}",
                                                 message->GetTypeName(), parsed.ToString()));
  }
  return base::Status::OK();
}

namespace {

// Parses the request as T, strictly; the caller then reads the fields it needs.
template <typename T>
base::Status Parse(std::string_view action, std::string_view bytes, T* message) {
  if (!ParseMessage(bytes, message)) {
    return base::Status::InvalidArgument(fmt::format(
        "crigate: the {} request is not a valid {} message", action, message->GetTypeName()));
  }
  std::string field = MisTypedField(*message);
  if (!field.empty()) {
    return base::Status::InvalidArgument(
        fmt::format("crigate: the {} request's field {} arrived with the wrong wire type; refused "
                    "rather than read as its default",
                    action, field));
  }
  return base::Status::OK();
}

bool EraseToken(StringMap* annotations) { return annotations->erase(policy::kTokenAnnotation) > 0; }

template <typename T>
base::Status Strip(std::string_view action, std::string_view in, std::string* out, bool* stripped,
                   bool (*erase)(T*)) {
  T req;
  if (base::Status s = Parse(action, in, &req); !s.ok()) return s;
  *stripped = erase(&req);
  return *stripped ? EncodeMessage(req, out) : base::Status::OK();
}

}  // namespace

bool ParseMessage(std::string_view bytes, google::protobuf::Message* message) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return false;
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

std::string MisTypedField(const google::protobuf::Message& message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(message);
  for (int i = 0; i < unknown.field_count(); ++i) {
    // An unknown field whose number the subset declares can only have come
    // with the wrong wire type (the parser accepts packed and unpacked alike).
    if (const FieldDescriptor* f = descriptor->FindFieldByNumber(unknown.field(i).number())) {
      return f->name();
    }
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    // Maps are string to string in the subset: nothing in them to mistype
    // that the gate would read differently.
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, f); ++i) {
        std::string inner = MisTypedField(reflection->GetRepeatedMessage(message, f, i));
        if (!inner.empty()) return fmt::format("{}[{}].{}", f->name(), i, inner);
      }
    } else {
      std::string inner = MisTypedField(reflection->GetMessage(message, f));
      if (!inner.empty()) return f->name() + "." + inner;
    }
  }
  return {};
}

base::Status EncodeMessage(const google::protobuf::Message& message, std::string* out) {
  if (!message.SerializeToString(out)) {
    return base::Status::Internal(
        fmt::format("crigate: cannot re-encode the {}", message.GetTypeName()));
  }
  return base::Status::OK();
}

base::Status StripTokenAnnotations(std::string_view action, std::string_view in, std::string* out,
                                   bool* stripped) {
  *stripped = false;
  if (action == "RunPodSandbox") {
    return Strip<v1::RunPodSandboxRequest>(action, in, out, stripped, [](auto* r) {
      return r->has_config() && EraseToken(r->mutable_config()->mutable_annotations());
    });
  }
  if (action == "CreateContainer") {
    return Strip<v1::CreateContainerRequest>(action, in, out, stripped, [](auto* r) {
      bool any = false;
      if (r->has_config()) {
        any |= EraseToken(r->mutable_config()->mutable_annotations());
        if (r->config().has_image()) {
          any |= EraseToken(r->mutable_config()->mutable_image()->mutable_annotations());
        }
      }
      if (r->has_sandbox_config()) {
        any |= EraseToken(r->mutable_sandbox_config()->mutable_annotations());
      }
      return any;
    });
  }
  if (action == "PullImage") {
    return Strip<v1::PullImageRequest>(action, in, out, stripped, [](auto* r) {
      bool any = r->has_image() && EraseToken(r->mutable_image()->mutable_annotations());
      if (r->has_sandbox_config()) {
        any |= EraseToken(r->mutable_sandbox_config()->mutable_annotations());
      }
      return any;
    });
  }
  if (action == "RemoveImage") {
    return Strip<v1::RemoveImageRequest>(action, in, out, stripped, [](auto* r) {
      return r->has_image() && EraseToken(r->mutable_image()->mutable_annotations());
    });
  }
  return base::Status::OK();
}

base::Status InspectRequest(std::string_view action, std::string_view request,
                            policy::GateRequest* out) {
  base::Status status;
  if (action == "RunPodSandbox") {
    v1::RunPodSandboxRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->pod = PodFromConfig(req.config());
    out->pod->runtime_handler = req.runtime_handler();
  } else if (action == "CreateContainer") {
    v1::CreateContainerRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->pod_sandbox_id = req.pod_sandbox_id();
    out->image = req.config().image().image();
    out->image_annotations = ToMap(req.config().image().annotations());
    out->container = ContainerFromConfig(req.config());
    out->pod = PodFromConfig(req.sandbox_config());
  } else if (action == "UpdateContainerResources") {
    v1::UpdateContainerResourcesRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->container_id = req.container_id();
    policy::ContainerInfo container;
    container.annotations = ToMap(req.annotations());
    container.resources.cpu_period = req.linux().cpu_period();
    container.resources.cpu_quota = req.linux().cpu_quota();
    container.resources.cpu_shares = req.linux().cpu_shares();
    container.resources.memory_limit_bytes = req.linux().memory_limit_in_bytes();
    out->container = std::move(container);
  } else if (action == "PullImage") {
    v1::PullImageRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->image = req.image().image();
    out->image_annotations = ToMap(req.image().annotations());
    if (req.has_sandbox_config()) out->pod = PodFromConfig(req.sandbox_config());
  } else if (action == "RemoveImage") {
    v1::RemoveImageRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->image = req.image().image();
    out->image_annotations = ToMap(req.image().annotations());
  } else if (action == "StopPodSandbox" || action == "RemovePodSandbox" ||
             action == "PortForward") {
    // All three carry pod_sandbox_id as field 1.
    v1::StopPodSandboxRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->pod_sandbox_id = req.pod_sandbox_id();
  } else if (action == "StartContainer" || action == "StopContainer" ||
             action == "RemoveContainer" || action == "ExecSync" || action == "Exec" ||
             action == "Attach" || action == "ReopenContainerLog" ||
             action == "CheckpointContainer") {
    // All of these carry container_id as field 1.
    v1::StartContainerRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->container_id = req.container_id();
  }
  return base::Status::OK();
}

bool CarriesTokenAnnotation(const policy::GateRequest& request) {
  auto has = [](const std::map<std::string, std::string>& annotations) {
    return annotations.count(policy::kTokenAnnotation) > 0;
  };
  return has(request.image_annotations) || (request.pod && has(request.pod->annotations)) ||
         (request.container && has(request.container->annotations));
}

}  // namespace crigate::cri
