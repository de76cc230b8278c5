// What the daemon does after a call has been answered: keeps the monitor's
// list of containers in step with StartContainer / StopContainer /
// RemoveContainer, whether or not those methods are gated.
#pragma once

#include "cri/proxy.h"
#include "monitor/watchdog.h"

namespace crigate::cri {

class FollowUp final : public CallObserver {
 public:
  // watchdog may be null (monitor disabled); it must outlive this object.
  explicit FollowUp(monitor::Watchdog* watchdog) : watchdog_(watchdog) {}

  grpc::Status AfterAllowed(const policy::GateRequest& request, const policy::Decision& decision,
                            const grpc::Status& status,
                            const grpc::ByteBuffer* last_response) override;
  void AfterForwarded(const policy::GateRequest& request, const grpc::Status& status) override;
  // Registering with the watchdog only queues work.
  bool MayBlock(const policy::GateRequest& request) const override { return false; }

 private:
  void TrackContainer(const policy::GateRequest& request, const grpc::Status& status);

  monitor::Watchdog* const watchdog_;
};

}  // namespace crigate::cri
