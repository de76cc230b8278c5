#include "runtime_backend.h"

#include <grpcpp/client_context.h>

#include <nlohmann/json.hpp>

#include "cri_subset.grpc.pb.h"

namespace crigate::monitor {
namespace {

constexpr std::chrono::seconds kStopSlack(30);

ContainerRunState FromCri(runtime::v1::ContainerState state) {
  switch (state) {
    case runtime::v1::CONTAINER_CREATED:
      return ContainerRunState::kCreated;
    case runtime::v1::CONTAINER_RUNNING:
      return ContainerRunState::kRunning;
    case runtime::v1::CONTAINER_EXITED:
      return ContainerRunState::kExited;
    default:
      return ContainerRunState::kUnknown;
  }
}

void SetDeadline(grpc::ClientContext* context, std::chrono::milliseconds timeout) {
  // ClientContext::set_deadline takes system_clock.
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

bool ParseVerboseInfo(std::string_view json, ContainerFacts* facts) {
  nlohmann::json info = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!info.is_object()) return false;
  auto pid = info.find("pid");
  if (pid != info.end() && pid->is_number_integer() && pid->get<int64_t>() > 0 &&
      pid->get<int64_t>() < (int64_t{1} << 31)) {
    facts->pid = static_cast<int>(pid->get<int64_t>());
  }
  auto sandbox = info.find("sandboxID");
  if (sandbox != info.end() && sandbox->is_string())
    facts->sandbox_id = sandbox->get<std::string>();
  auto spec = info.find("runtimeSpec");
  if (spec != info.end() && spec->is_object()) {
    auto linux_section = spec->find("linux");
    if (linux_section != spec->end() && linux_section->is_object()) {
      auto path = linux_section->find("cgroupsPath");
      if (path != linux_section->end() && path->is_string()) {
        facts->cgroups_path = path->get<std::string>();
      }
    }
  }
  return true;
}

class CriContainerRuntime::Stub {
 public:
  explicit Stub(std::shared_ptr<grpc::Channel> channel)
      : stub(runtime::v1::RuntimeService::NewStub(std::move(channel))) {}
  std::unique_ptr<runtime::v1::RuntimeService::Stub> stub;
};

CriContainerRuntime::CriContainerRuntime(std::shared_ptr<grpc::Channel> channel,
                                         std::chrono::milliseconds call_timeout)
    : stub_(std::make_unique<Stub>(std::move(channel))), call_timeout_(call_timeout) {}

CriContainerRuntime::~CriContainerRuntime() = default;

grpc::Status CriContainerRuntime::ListRunning(std::vector<std::string>* ids) {
  runtime::v1::ListContainersRequest request;
  request.mutable_filter()->mutable_state()->set_state(runtime::v1::CONTAINER_RUNNING);
  runtime::v1::ListContainersResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, call_timeout_);
  grpc::Status status = stub_->stub->ListContainers(&context, request, &response);
  if (!status.ok()) return status;
  ids->clear();
  for (const runtime::v1::Container& container : response.containers()) {
    // The filter is the runtime's to honour; check again.
    if (container.state() == runtime::v1::CONTAINER_RUNNING) ids->push_back(container.id());
  }
  return grpc::Status::OK;
}

grpc::Status CriContainerRuntime::Status(const std::string& id, ContainerFacts* facts) {
  runtime::v1::ContainerStatusRequest request;
  request.set_container_id(id);
  request.set_verbose(true);
  runtime::v1::ContainerStatusResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, call_timeout_);
  grpc::Status status = stub_->stub->ContainerStatus(&context, request, &response);
  if (!status.ok()) return status;
  const runtime::v1::ContainerStatus& cri = response.status();
  *facts = ContainerFacts();
  facts->id = cri.id().empty() ? id : cri.id();
  facts->name = cri.metadata().name();
  facts->labels = std::map<std::string, std::string>(cri.labels().begin(), cri.labels().end());
  facts->state = FromCri(cri.state());
  facts->started_at_ns = cri.started_at();
  auto info = response.info().find("info");
  if (info != response.info().end()) ParseVerboseInfo(info->second, facts);
  if (facts->sandbox_id.empty()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "containerd's ContainerStatus named no sandbox (verbose info missing)");
  }
  // Whose the container is comes from its sandbox as containerd holds it:
  // protection must not follow a label any client can set.
  runtime::v1::PodSandboxStatusRequest sandbox_request;
  sandbox_request.set_pod_sandbox_id(facts->sandbox_id);
  runtime::v1::PodSandboxStatusResponse sandbox;
  grpc::ClientContext sandbox_context;
  SetDeadline(&sandbox_context, call_timeout_);
  status = stub_->stub->PodSandboxStatus(&sandbox_context, sandbox_request, &sandbox);
  if (!status.ok()) return status;
  facts->pod_name = sandbox.status().metadata().name();
  facts->pod_namespace = sandbox.status().metadata().namespace_();
  return grpc::Status::OK;
}

grpc::Status CriContainerRuntime::Stop(const std::string& id, int64_t grace_seconds) {
  runtime::v1::StopContainerRequest request;
  request.set_container_id(id);
  request.set_timeout(grace_seconds);
  runtime::v1::StopContainerResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::seconds(grace_seconds) + call_timeout_ + kStopSlack);
  return stub_->stub->StopContainer(&context, request, &response);
}

}  // namespace crigate::monitor
