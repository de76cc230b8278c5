// A typed CRI client for the end-to-end tests and the demo, built from the
// same CRI subset the gate uses. Talks to any CRI socket: crigate's, or
// containerd's directly (to compare, or to go around the gate on purpose).
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cri_subset.pb.h"
#include "policy/audit_record.h"
#include "policy/base/status.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace crigate::test {

namespace v1 = ::runtime::v1;

class CriClient {
 public:
  // socket: a filesystem path ("/run/crigate/crigate.sock").
  explicit CriClient(const std::string& socket,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~CriClient();
  CriClient(CriClient&&) noexcept;

  // Metadata added to every later call (e.g. {"authorization", "Bearer ..."}).
  void SetMetadata(std::vector<std::pair<std::string, std::string>> metadata) {
    metadata_ = std::move(metadata);
  }

  grpc::Status Version(v1::VersionResponse* out);
  grpc::Status Status(v1::StatusResponse* out);
  grpc::Status PullImage(const std::string& image, v1::PullImageResponse* out,
                         const std::map<std::string, std::string>& annotations = {});
  grpc::Status ImageStatus(const std::string& image, v1::ImageStatusResponse* out);
  grpc::Status ListImages(v1::ListImagesResponse* out);
  grpc::Status RemoveImage(const std::string& image);
  grpc::Status RunPodSandbox(const v1::PodSandboxConfig& config, std::string* pod_id);
  grpc::Status StopPodSandbox(const std::string& pod_id);
  grpc::Status RemovePodSandbox(const std::string& pod_id);
  grpc::Status CreateContainer(const std::string& pod_id, const v1::ContainerConfig& config,
                               const v1::PodSandboxConfig& sandbox, std::string* container_id);
  // The same, with a hand-made request (e.g. one carrying unknown fields).
  grpc::Status CreateContainer(const v1::CreateContainerRequest& request,
                               std::string* container_id);
  grpc::Status StartContainer(const std::string& container_id);
  grpc::Status StopContainer(const std::string& container_id, int64_t timeout_s);
  grpc::Status RemoveContainer(const std::string& container_id);
  grpc::Status ContainerStatus(const std::string& container_id, v1::ContainerStatusResponse* out,
                               bool verbose = false);
  grpc::Status ContainerStats(const std::string& container_id, v1::ContainerStatsResponse* out);
  grpc::Status ListContainers(v1::ListContainersResponse* out);
  grpc::Status ExecSync(const std::string& container_id, const std::vector<std::string>& cmd,
                        v1::ExecSyncResponse* out, int64_t timeout_s = 10);

  // Sends raw request bytes to any method path and returns the raw answer:
  // for unknown methods and malformed bodies.
  grpc::Status RawCall(const std::string& method, const std::string& request,
                       std::string* response);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  void Prepare(grpc::ClientContext* ctx) const;

  std::shared_ptr<grpc::Channel> channel_;
  // The generated stubs, out of line: their header costs 2.6 s to parse in
  // every test file that includes this one.
  struct Stubs;
  std::unique_ptr<Stubs> stubs_;
  std::chrono::milliseconds timeout_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// "PERMISSION_DENIED" for grpc::StatusCode::PERMISSION_DENIED, and so on:
// the gate's own names, as the audit log writes them.
inline std::string StatusCodeName(grpc::StatusCode code) {
  return base::CodeName(static_cast<int>(code));
}

// A host-network pod (no CNI needed) with the given name, in namespace
// "default", with a unique uid.
v1::PodSandboxConfig HostNetworkPod(const std::string& name, const std::string& log_dir);

// A container running `command` from `image`, with the /proc masked and
// read-only paths kubelet sends for a default /proc mount.
v1::ContainerConfig Container(const std::string& name, const std::string& image,
                              const std::vector<std::string>& command);

}  // namespace crigate::test
