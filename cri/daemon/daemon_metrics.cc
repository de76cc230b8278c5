#include "cri/daemon/daemon_metrics.h"

#include "policy/channel/mqtt_channel.h"
#include "policy/cloud/event_sink.h"
#include "policy/token_use_store.h"

namespace crigate::cri {

namespace {

base::Counter& Reloads(bool ok) {
  static base::CounterFamily& reloads = base::DefaultRegistry().Counters(
      "crigate_reloads_total",
      "Reloads (SIGHUP or a cloud bundle) by result: ok (the new snapshot is in force) or "
      "refused (everything stayed as it was).",
      {"result"});
  static base::Counter& done = reloads.With({"ok"});
  static base::Counter& refused = reloads.With({"refused"});
  return ok ? done : refused;
}

}  // namespace

void RegisterDaemonMetrics(std::string_view version) {
  base::DefaultRegistry()
      .Gauges("crigate_build_info", "The crigate build serving, as its version label; always 1.",
              {"version"})
      .With({version})
      .Set(1);
  Reloads(true);  // both results exported from the start, at 0
}

void CountReload(bool ok) { Reloads(ok).Inc(); }

uint64_t ReloadsCounted(bool ok) { return Reloads(ok).Value(); }

std::unique_ptr<base::Registry> PartMetrics(const ScrapedParts& parts) {
  auto registry = std::make_unique<base::Registry>();
  if (const policy::TokenUseStore* uses = parts.token_uses) {
    registry->AddGaugeCallback(
        "crigate_token_uses",
        "Token uses remembered (reserved and committed; expired ones until the next sweep).",
        [uses] { return static_cast<double>(uses->size()); });
  }
  if (const cloud::EventSink* events = parts.events) {
    registry->AddGaugeCallback("crigate_cloud_event_queue_depth",
                               "Events waiting to be posted to cloud.events_url.",
                               [events] { return static_cast<double>(events->stats().queued); });
    registry->AddCounterCallback(
        "crigate_cloud_events_dropped_total",
        "Events the cloud event sink gave up: pushed out of a full queue, out of retries, or "
        "unsent at shutdown.",
        [events] {
          const cloud::EventSinkStats s = events->stats();
          return static_cast<double>(s.dropped_full + s.dropped_failed + s.dropped_shutdown);
        });
  }
  if (const channel::MqttChannel* channel = parts.channel) {
    registry->AddGaugeCallback(
        "crigate_channel_spool_depth", "Events spooled on disk for the MQTT broker.",
        [channel] { return static_cast<double>(channel->stats().spool.depth); });
    registry->AddCounterCallback(
        "crigate_channel_spool_dropped_total",
        "Events the spool dropped (past channel.spool_max_events, or unreadable), ever: the count "
        "is kept on disk.",
        [channel] { return static_cast<double>(channel->stats().spool.dropped); });
  }
  return registry;
}

}  // namespace crigate::cri
