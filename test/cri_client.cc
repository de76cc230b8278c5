#include "test/cri_client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "cri_subset.grpc.pb.h"

namespace crigate::test {

struct CriClient::Stubs {
  std::unique_ptr<v1::RuntimeService::Stub> runtime;
  std::unique_ptr<v1::ImageService::Stub> images;
};

CriClient::CriClient(const std::string& socket, std::chrono::milliseconds timeout)
    : channel_(grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials())),
      stubs_(new Stubs{v1::RuntimeService::NewStub(channel_), v1::ImageService::NewStub(channel_)}),
      timeout_(timeout) {}

CriClient::~CriClient() = default;
CriClient::CriClient(CriClient&&) noexcept = default;

void CriClient::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
  for (const auto& [k, v] : metadata_) ctx->AddMetadata(k, v);
}

grpc::Status CriClient::Version(v1::VersionResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::VersionRequest req;
  req.set_version("v1");
  return stubs_->runtime->Version(&ctx, req, out);
}

grpc::Status CriClient::Status(v1::StatusResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return stubs_->runtime->Status(&ctx, v1::StatusRequest(), out);
}

grpc::Status CriClient::PullImage(const std::string& image, v1::PullImageResponse* out,
                                  const std::map<std::string, std::string>& annotations) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  for (const auto& [k, v] : annotations) (*req.mutable_image()->mutable_annotations())[k] = v;
  return stubs_->images->PullImage(&ctx, req, out);
}

grpc::Status CriClient::ImageStatus(const std::string& image, v1::ImageStatusResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  return stubs_->images->ImageStatus(&ctx, req, out);
}

grpc::Status CriClient::ListImages(v1::ListImagesResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return stubs_->images->ListImages(&ctx, v1::ListImagesRequest(), out);
}

grpc::Status CriClient::RemoveImage(const std::string& image) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(image);
  v1::RemoveImageResponse resp;
  return stubs_->images->RemoveImage(&ctx, req, &resp);
}

grpc::Status CriClient::RunPodSandbox(const v1::PodSandboxConfig& config, std::string* pod_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  v1::RunPodSandboxResponse resp;
  grpc::Status s = stubs_->runtime->RunPodSandbox(&ctx, req, &resp);
  if (pod_id) *pod_id = resp.pod_sandbox_id();
  return s;
}

grpc::Status CriClient::StopPodSandbox(const std::string& pod_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(pod_id);
  v1::StopPodSandboxResponse resp;
  return stubs_->runtime->StopPodSandbox(&ctx, req, &resp);
}

grpc::Status CriClient::RemovePodSandbox(const std::string& pod_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(pod_id);
  v1::RemovePodSandboxResponse resp;
  return stubs_->runtime->RemovePodSandbox(&ctx, req, &resp);
}

grpc::Status CriClient::CreateContainer(const std::string& pod_id,
                                        const v1::ContainerConfig& config,
                                        const v1::PodSandboxConfig& sandbox,
                                        std::string* container_id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = sandbox;
  return CreateContainer(req, container_id);
}

grpc::Status CriClient::CreateContainer(const v1::CreateContainerRequest& request,
                                        std::string* container_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::CreateContainerResponse resp;
  grpc::Status s = stubs_->runtime->CreateContainer(&ctx, request, &resp);
  if (container_id) *container_id = resp.container_id();
  return s;
}

grpc::Status CriClient::StartContainer(const std::string& container_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::StartContainerRequest req;
  req.set_container_id(container_id);
  v1::StartContainerResponse resp;
  return stubs_->runtime->StartContainer(&ctx, req, &resp);
}

grpc::Status CriClient::StopContainer(const std::string& container_id, int64_t timeout_s) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::StopContainerRequest req;
  req.set_container_id(container_id);
  req.set_timeout(timeout_s);
  v1::StopContainerResponse resp;
  return stubs_->runtime->StopContainer(&ctx, req, &resp);
}

grpc::Status CriClient::RemoveContainer(const std::string& container_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::RemoveContainerRequest req;
  req.set_container_id(container_id);
  v1::RemoveContainerResponse resp;
  return stubs_->runtime->RemoveContainer(&ctx, req, &resp);
}

grpc::Status CriClient::ContainerStatus(const std::string& container_id,
                                        v1::ContainerStatusResponse* out, bool verbose) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ContainerStatusRequest req;
  req.set_container_id(container_id);
  req.set_verbose(verbose);
  return stubs_->runtime->ContainerStatus(&ctx, req, out);
}

grpc::Status CriClient::ContainerStats(const std::string& container_id,
                                       v1::ContainerStatsResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ContainerStatsRequest req;
  req.set_container_id(container_id);
  return stubs_->runtime->ContainerStats(&ctx, req, out);
}

grpc::Status CriClient::ListContainers(v1::ListContainersResponse* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return stubs_->runtime->ListContainers(&ctx, v1::ListContainersRequest(), out);
}

grpc::Status CriClient::ExecSync(const std::string& container_id,
                                 const std::vector<std::string>& cmd, v1::ExecSyncResponse* out,
                                 int64_t timeout_s) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ExecSyncRequest req;
  req.set_container_id(container_id);
  for (const auto& c : cmd) req.add_cmd(c);
  req.set_timeout(timeout_s);
  return stubs_->runtime->ExecSync(&ctx, req, out);
}

grpc::Status CriClient::RawCall(const std::string& method, const std::string& request,
                                std::string* response) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), resp;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp, [&](grpc::Status s) {
    std::lock_guard lock(mu);
    status = std::move(s);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  if (status.ok() && response) {
    std::vector<grpc::Slice> slices;
    resp.Dump(&slices);
    response->clear();
    for (const auto& s : slices)
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

v1::PodSandboxConfig HostNetworkPod(const std::string& name, const std::string& log_dir) {
  static std::atomic<int> counter{0};
  v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_uid(name + "-uid-" + std::to_string(getpid()) + "-" +
                                  std::to_string(counter++));
  pod.set_log_directory(log_dir);
  auto* ns = pod.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(v1::NODE);
  return pod;
}

v1::ContainerConfig Container(const std::string& name, const std::string& image,
                              const std::vector<std::string>& command) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_image()->set_image(image);
  for (const auto& part : command) c.add_command(part);
  c.set_log_path(name + ".log");
  // What kubelet sends for a default /proc mount: containerd masks only what
  // the request lists.
  auto* sc = c.mutable_linux()->mutable_security_context();
  for (const char* path : {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                           "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                           "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}) {
    sc->add_masked_paths(path);
  }
  for (const char* path :
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
    sc->add_readonly_paths(path);
  }
  return c;
}

}  // namespace crigate::test
