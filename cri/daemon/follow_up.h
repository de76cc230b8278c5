// What the daemon does after a call has been answered: keeps the monitor's
// list of containers in step with StartContainer / StopContainer /
// RemoveContainer, whether or not those methods are gated; checks what an
// allowed PullImage actually pulled against the trust store; and keeps the
// token an allowed CreateContainer carried for that container's
// StartContainer (policy/token_grants.h).
#pragma once

#include <memory>

#include "cri/call_hooks.h"
#include "monitor/watchdog.h"
#include "policy/pipeline.h"
#include "policy/token_grants.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace crigate::cri {

class FollowUp final : public CallObserver {
 public:
  // watchdog and pipeline may be null (monitor / policy off); both must
  // outlive this object. backend is containerd, for removing an image whose
  // pulled digest the trust store refuses.
  FollowUp(monitor::Watchdog* watchdog, policy::StagedPipeline* pipeline,
           const std::shared_ptr<grpc::Channel>& backend, policy::TokenGrants* grants = nullptr);
  ~FollowUp() override;

  base::Status AfterAllowed(const policy::GateRequest& request, const policy::Decision& decision,
                            const base::Status& answer, const std::string* last_response) override;
  void AfterForwarded(const policy::GateRequest& request, const base::Status& answer) override;
  // Registering with the watchdog only queues work; a pull check may call
  // containerd.
  bool MayBlock(const policy::GateRequest& request) const override {
    return request.action == "PullImage" || request.action == "CreateContainer" ||
           request.action == "RemoveContainer";
  }

 private:
  void TrackContainer(const policy::GateRequest& request, const base::Status& answer);
  void KeepToken(const policy::Decision& decision, const std::string* response);
  base::Status CheckPull(const policy::GateRequest& request, const std::string& response);

  monitor::Watchdog* const watchdog_;
  policy::StagedPipeline* const pipeline_;
  policy::TokenGrants* const grants_;
  // containerd's ImageService stub (out of line, as in BackendResolver).
  struct Images;
  const std::unique_ptr<Images> images_;
};

}  // namespace crigate::cri
