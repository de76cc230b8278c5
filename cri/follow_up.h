// What the daemon does after a call has been answered: keeps the monitor's
// list of containers in step with StartContainer / StopContainer /
// RemoveContainer, whether or not those methods are gated, and checks what
// an allowed PullImage actually pulled against the trust store.
#pragma once

#include <grpcpp/channel.h>

#include "cri/proxy.h"
#include "cri_subset.grpc.pb.h"
#include "monitor/watchdog.h"
#include "policy/pipeline.h"

namespace crigate::cri {

class FollowUp final : public CallObserver {
 public:
  // watchdog and pipeline may be null (monitor / policy off); both must
  // outlive this object. backend is containerd, for removing an image whose
  // pulled digest the trust store refuses.
  FollowUp(monitor::Watchdog* watchdog, policy::StagedPipeline* pipeline,
           std::shared_ptr<grpc::Channel> backend);

  grpc::Status AfterAllowed(const policy::GateRequest& request, const policy::Decision& decision,
                            const grpc::Status& status,
                            const grpc::ByteBuffer* last_response) override;
  void AfterForwarded(const policy::GateRequest& request, const grpc::Status& status) override;
  // Registering with the watchdog only queues work; a pull check may call
  // containerd.
  bool MayBlock(const policy::GateRequest& request) const override {
    return request.action == "PullImage";
  }

 private:
  void TrackContainer(const policy::GateRequest& request, const grpc::Status& status);
  grpc::Status CheckPull(const policy::GateRequest& request, const grpc::ByteBuffer& response);

  monitor::Watchdog* const watchdog_;
  policy::StagedPipeline* const pipeline_;
  const std::unique_ptr<runtime::v1::ImageService::Stub> images_;
};

}  // namespace crigate::cri
