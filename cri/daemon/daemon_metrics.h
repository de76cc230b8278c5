// The daemon's own metrics, and the parts' values read at scrape time.
//
//   crigate_build_info{version}            1
//   crigate_reloads_total{result}          ok, refused
//   crigate_token_uses                     entries in the token-use store
//   crigate_cloud_event_queue_depth        events waiting for the cloud's events endpoint
//   crigate_cloud_events_dropped_total     events the sink gave up (queue full, retries, shutdown)
//   crigate_channel_spool_depth            events spooled for the broker
//   crigate_channel_spool_dropped_total    events the spool dropped (bound, unreadable)
//
// The last five live in the parts (their stats()); they are read only when
// Prometheus scrapes, never mirrored.
#pragma once

#include <memory>
#include <string_view>

#include "policy/base/metrics.h"

namespace crigate::policy {
class TokenUseStore;
}  // namespace crigate::policy

namespace crigate::cloud {
class EventSink;
}  // namespace crigate::cloud

namespace crigate::channel {
class MqttChannel;
}  // namespace crigate::channel

namespace crigate::cri {

// crigate_build_info{version} 1, and the reload counters at 0, in the
// default registry.
void RegisterDaemonMetrics(std::string_view version);

// A reload that took effect (ok) or was refused.
void CountReload(bool ok);
// What CountReload has counted so far (crigate status shows it).
uint64_t ReloadsCounted(bool ok);

// The parts a scrape reads; any may be null (that part is off). They must
// outlive the registry's server.
struct ScrapedParts {
  const policy::TokenUseStore* token_uses = nullptr;
  const cloud::EventSink* events = nullptr;
  const channel::MqttChannel* channel = nullptr;
};

// A registry of the parts' gauges and counters, read at scrape time.
std::unique_ptr<base::Registry> PartMetrics(const ScrapedParts& parts);

}  // namespace crigate::cri
