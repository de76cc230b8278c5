#include "cri/daemon/stop_reporter.h"

#include <nlohmann/json.hpp>

#include "cri/log.h"
#include "policy/base/time.h"
#include "policy/channel/mqtt_channel.h"
#include "policy/cloud/event_sink.h"

namespace crigate::cri {

void StopReporter::Report(const monitor::StopAction& a) {
  std::string outcome = a.result.ok() ? "stopped" : "stop failed: " + a.result.error_message();
  // The shape of a decision record: ISO time, the node object (the audit log
  // stamps it; the event sink adds the node's MAC too).
  nlohmann::ordered_json record = {
      {"time", base::FormatUtc(a.decided_at, true)},
      {"type", "monitor_stop"},
      {"container_id", a.container_id},
      {"container_name", a.container_name},
      {"pod", {{"name", a.pod_name}, {"namespace", a.pod_namespace}}},
      {"resource", a.resource},
      {"ratio", a.ratio},
      {"threshold", a.threshold},
      {"samples", a.samples},
      {"share", a.share},
      {"started_at_ns", a.started_at_ns},
      {"grace_seconds", a.grace_seconds},
      {"outcome", outcome},
  };
  log::Warn("monitor stopped {} ({}/{} {}): {} at {:.2f} over {:.2f} for {} samples: {}",
            a.container_id.substr(0, 12), a.pod_namespace, a.pod_name, a.container_name, a.resource,
            a.ratio, a.threshold, a.samples, outcome);
  if (audit_ != nullptr) {
    base::Status s = audit_->Record(record);
    if (!s.ok()) log::Error("audit record of a monitor stop failed: {}", s.message());
  }
  if (events_ != nullptr) events_->Post(nlohmann::json(record));
  if (channel_ != nullptr) {
    base::Status spooled = channel_->Post(nlohmann::json(record));
    if (!spooled.ok()) log::Error("monitor stop not spooled for the cloud: {}", spooled.message());
  }
}

}  // namespace crigate::cri
