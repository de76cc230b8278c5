#include "cri/inspect.h"

#include <fmt/format.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "cri_subset.pb.h"

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

policy::PodInfo PodFrom(const v1::PodSandboxConfig& config) {
  policy::PodInfo pod;
  pod.name = config.metadata().name();
  pod.uid = config.metadata().uid();
  pod.namespace_ = config.metadata().namespace_();
  pod.labels = ToMap(config.labels());
  pod.annotations = ToMap(config.annotations());
  const auto& security = config.linux().security_context();
  pod.host = HostModes(security.namespace_options());
  pod.privileged = security.privileged();
  return pod;
}

policy::ContainerInfo ContainerFrom(const v1::ContainerConfig& config) {
  policy::ContainerInfo container;
  container.name = config.metadata().name();
  container.labels = ToMap(config.labels());
  container.annotations = ToMap(config.annotations());
  const auto& security = config.linux().security_context();
  container.host = HostModes(security.namespace_options());
  container.privileged = security.privileged();
  for (const auto& cap : security.capabilities().add_capabilities()) {
    container.added_capabilities.push_back(cap);
  }
  const auto& res = config.linux().resources();
  container.resources.cpu_period = res.cpu_period();
  container.resources.cpu_quota = res.cpu_quota();
  container.resources.cpu_shares = res.cpu_shares();
  container.resources.memory_limit_bytes = res.memory_limit_in_bytes();
  return container;
}

// Parses the request as T; the caller then reads the fields it needs.
template <typename T>
grpc::Status Parse(std::string_view action, const grpc::ByteBuffer& buffer, T* message) {
  if (!ParseMessage(buffer, message)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        fmt::format("crigate: the {} request is not a valid {} message", action,
                                    message->GetTypeName()));
  }
  return grpc::Status::OK;
}

}  // namespace

bool ParseMessage(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message) {
  // ProtoBufferReader reads the slices in place; the const_cast is for its
  // signature only: reading does not modify the buffer.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&buffer));
  return message->ParseFromZeroCopyStream(&reader);
}

grpc::Status InspectRequest(std::string_view action, const grpc::ByteBuffer& request,
                            policy::GateRequest* out) {
  grpc::Status status;
  if (action == "RunPodSandbox") {
    v1::RunPodSandboxRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->pod = PodFrom(req.config());
    out->pod->runtime_handler = req.runtime_handler();
  } else if (action == "CreateContainer") {
    v1::CreateContainerRequest req;
    if (!(status = Parse(action, request, &req)).ok()) return status;
    out->pod_sandbox_id = req.pod_sandbox_id();
    out->image = req.config().image().image();
    out->image_annotations = ToMap(req.config().image().annotations());
    out->container = ContainerFrom(req.config());
    out->pod = PodFrom(req.sandbox_config());
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
    if (req.has_sandbox_config()) out->pod = PodFrom(req.sandbox_config());
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
  return grpc::Status::OK;
}

}  // namespace crigate::cri
