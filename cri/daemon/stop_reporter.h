// Where a watchdog stop is recorded: one audit line (the same file as the
// gate's decisions), one event for the cloud, and a warning in the log. The
// event goes to the cloud channel's spool (MQTT; durable before Report
// returns) and/or to the HTTP event endpoint's queue (best effort); neither
// waits for the network.
#pragma once

#include "monitor/action_reporter.h"
#include "policy/audit_log.h"

namespace crigate::cloud {
class EventSink;
}
namespace crigate::channel {
class MqttChannel;
}

namespace crigate::cri {

class StopReporter final : public monitor::ActionReporter {
 public:
  // audit, events and channel may be null; each must outlive this object.
  // Each adds the node object itself.
  StopReporter(policy::AuditLog* audit, cloud::EventSink* events,
               channel::MqttChannel* channel = nullptr)
      : audit_(audit), events_(events), channel_(channel) {}
  void Report(const monitor::StopAction& action) override;

 private:
  policy::AuditLog* const audit_;
  cloud::EventSink* const events_;
  channel::MqttChannel* const channel_;
};

}  // namespace crigate::cri
