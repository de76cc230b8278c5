#include "cri/follow_up.h"

namespace crigate::cri {

grpc::Status FollowUp::AfterAllowed(const policy::GateRequest& request,
                                    const policy::Decision& decision, const grpc::Status& status,
                                    const grpc::ByteBuffer* last_response) {
  TrackContainer(request, status);
  return status;
}

void FollowUp::AfterForwarded(const policy::GateRequest& request, const grpc::Status& status) {
  TrackContainer(request, status);
}

void FollowUp::TrackContainer(const policy::GateRequest& request, const grpc::Status& status) {
  if (watchdog_ == nullptr || !status.ok() || request.container_id.empty()) return;
  if (request.action == "StartContainer") {
    watchdog_->Register(request.container_id);
  } else if (request.action == "StopContainer" || request.action == "RemoveContainer") {
    watchdog_->Forget(request.container_id);
  }
}

}  // namespace crigate::cri
