#include "cri/daemon/follow_up.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "cri/inspect.h"
#include "cri/log.h"
#include "cri_subset.grpc.pb.h"

namespace crigate::cri {

struct FollowUp::Images {
  std::unique_ptr<runtime::v1::ImageService::Stub> stub;
};

FollowUp::FollowUp(monitor::Watchdog* watchdog, policy::StagedPipeline* pipeline,
                   const std::shared_ptr<grpc::Channel>& backend, policy::TokenGrants* grants)
    : watchdog_(watchdog),
      pipeline_(pipeline),
      grants_(grants),
      images_(new Images{runtime::v1::ImageService::NewStub(backend)}) {}

FollowUp::~FollowUp() = default;

base::Status FollowUp::AfterAllowed(const policy::GateRequest& request,
                                    const policy::Decision& decision, const base::Status& answer,
                                    const std::string* last_response) {
  TrackContainer(request, answer);
  if (request.action == "CreateContainer" && answer.ok()) KeepToken(decision, last_response);
  if (request.action == "RemoveContainer" && answer.ok() && grants_ != nullptr) {
    // kubelet names containers by their full id; a kept token under a name
    // given as a prefix is dropped by age at the next start.
    grants_->Forget(request.container_id);
  }
  if (request.action == "PullImage" && answer.ok() && pipeline_ != nullptr) {
    if (last_response == nullptr) {
      return base::Status::Internal("crigate: containerd answered PullImage with no message");
    }
    return CheckPull(request, *last_response);
  }
  return base::Status::OK();  // containerd's answer stands
}

// The pull was allowed on its name; the digest it resolved to is only known
// now. A digest the trust store refuses is removed again before the caller
// hears of it.
base::Status FollowUp::CheckPull(const policy::GateRequest& request, const std::string& response) {
  runtime::v1::PullImageResponse pulled;
  if (!ParseMessage(response, &pulled) || pulled.image_ref().empty()) {
    return base::Status::Internal("crigate: cannot read containerd's PullImage answer");
  }
  policy::Decision decision = pipeline_->CheckPulledImage(request, pulled.image_ref());
  if (decision.allow) return base::Status::OK();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  runtime::v1::RemoveImageRequest remove;
  remove.mutable_image()->set_image(pulled.image_ref());
  runtime::v1::RemoveImageResponse removed;
  grpc::Status s = images_->stub->RemoveImage(&ctx, remove, &removed);
  log::Info("deny PullImage image={} after the pull: {}; pulled image {} {}", request.image,
            decision.reason, pulled.image_ref(),
            s.ok() ? "removed" : "could NOT be removed: " + s.error_message());
  return decision.ToStatus();
}

void FollowUp::KeepToken(const policy::Decision& decision, const std::string* response) {
  if (grants_ == nullptr || decision.token.empty() || response == nullptr) return;
  runtime::v1::CreateContainerResponse created;
  if (!ParseMessage(*response, &created)) return;
  base::Status kept = grants_->Remember(created.container_id(), decision.token);
  if (!kept.ok()) {
    log::Warn(
        "container {}: its token could not be kept for StartContainer ({}); StartContainer "
        "will need the token in authorization metadata",
        created.container_id().substr(0, 12), kept.message());
  }
}

void FollowUp::AfterForwarded(const policy::GateRequest& request, const base::Status& answer) {
  TrackContainer(request, answer);
}

void FollowUp::TrackContainer(const policy::GateRequest& request, const base::Status& answer) {
  if (watchdog_ == nullptr || !answer.ok() || request.container_id.empty()) return;
  if (request.action == "StartContainer") {
    watchdog_->Register(request.container_id);
  } else if (request.action == "StopContainer" || request.action == "RemoveContainer") {
    watchdog_->Forget(request.container_id);
  }
}

}  // namespace crigate::cri
