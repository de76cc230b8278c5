// Where a watchdog stop is recorded: one audit line (the same file as the
// gate's decisions), one event queued for the cloud's event endpoint (best
// effort; never waits for the network), and a warning in the log.
#pragma once

#include "monitor/action_reporter.h"
#include "policy/audit_log.h"

namespace crigate::cloud {
class EventSink;
}

namespace crigate::cri {

class StopReporter final : public monitor::ActionReporter {
 public:
  // audit and events may be null; both must outlive this object. Each adds
  // the node object itself.
  StopReporter(policy::AuditLog* audit, cloud::EventSink* events)
      : audit_(audit), events_(events) {}
  void Report(const monitor::StopAction& action) override;

 private:
  policy::AuditLog* const audit_;
  cloud::EventSink* const events_;
};

}  // namespace crigate::cri
