#include "watchdog.h"

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <system_error>

#include "policy/base/metrics.h"

namespace crigate::monitor {
namespace {

using std::chrono::steady_clock;

constexpr size_t kLookupQueueCapacity = 4096;
constexpr size_t kStopQueueCapacity = 16;
// A failed resync (containerd not up yet) is retried this soon, not after a
// whole resync interval.
constexpr std::chrono::seconds kResyncRetry(5);

std::chrono::nanoseconds ThreadCpuTime() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

double Seconds(steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// crigate_watchdog_{samples,breaches}_total of one resource, resolved once.
struct ResourceMetrics {
  base::Counter& samples;
  base::Counter& breaches;
};

const ResourceMetrics& MetricsOf(std::string_view resource) {
  static const auto* const by_resource = [] {
    base::Registry& registry = base::DefaultRegistry();
    auto& samples = registry.Counters("crigate_watchdog_samples_total",
                                      "Ratios the watchdog sampled, by resource.", {"resource"});
    auto& breaches = registry.Counters(
        "crigate_watchdog_breaches_total",
        "Sampled ratios over their threshold, by resource (a stop needs monitor.samples in a row).",
        {"resource"});
    auto* map = new std::map<std::string_view, ResourceMetrics>();  // never destroyed
    for (std::string_view name : {"cpu", "memory", "pids", "node_cpu", "node_memory",
                                  "node_cpu_pressure", "node_memory_pressure"}) {
      map->emplace(name, ResourceMetrics{samples.With({name}), breaches.With({name})});
    }
    return map;
  }();
  return by_resource->at(resource);
}

// counter.Observe, counted.
void Observe(BreachCounter& counter, std::optional<double> ratio, double threshold,
             std::string_view resource) {
  counter.Observe(ratio, threshold);
  if (!ratio) return;
  const ResourceMetrics& metrics = MetricsOf(resource);
  metrics.samples.Inc();
  if (threshold > 0 && *ratio > threshold) metrics.breaches.Inc();
}

base::CounterFamily& Stops() {
  static base::CounterFamily& stops = base::DefaultRegistry().Counters(
      "crigate_watchdog_stops_total",
      "Containers the watchdog stopped, by the resource over its threshold and the result of "
      "StopContainer (ok, failed).",
      {"resource", "result"});
  return stops;
}

base::Counter& StopsCounter(const std::string& resource, bool ok) {
  return Stops().With({resource, ok ? "ok" : "failed"});
}

void WriteToStderr(std::string_view message) {
  std::string line = fmt::format("crigate monitor: {}\n", message);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

struct Watchdog::Watched {
  ContainerFacts facts;
  Thresholds thresholds;
  bool is_protected = false;
  std::unique_ptr<CgroupReader> reader;
  std::optional<Sample> previous;
  steady_clock::time_point previous_at{};
  BreachCounter cpu;
  BreachCounter memory;
  BreachCounter pids;
  // The last sample's use, for the node-wide sums and the victim's share.
  std::optional<double> cpu_cores;
  std::optional<uint64_t> working_set;
  std::optional<double> cpu_pressure;  // "some avg10" as a ratio
  std::optional<double> memory_pressure;
  bool stopping = false;
  bool warned_protected = false;
};

Watchdog::Watchdog(MonitorConfig config, Dependencies dependencies)
    : config_(std::move(config)),
      runtime_(std::move(dependencies.runtime)),
      cgroups_(std::move(dependencies.cgroups)),
      reporter_(std::move(dependencies.reporter)),
      clock_(dependencies.clock ? std::move(dependencies.clock)
                                : std::make_shared<base::SystemClock>()),
      warn_(dependencies.warn ? std::move(dependencies.warn) : WriteToStderr),
      node_capacity_(dependencies.node->capacity()),
      node_(std::move(dependencies.node)),
      lookups_(kLookupQueueCapacity),
      stops_(kStopQueueCapacity) {
  // Exported from the start, at 0: every resource's samples and breaches,
  // and the stops' HELP and TYPE.
  MetricsOf("cpu");
  Stops();
}

Watchdog::~Watchdog() { Stop(); }

bool Watchdog::Start() {
  if (!config_.enabled) return true;
  std::lock_guard<std::mutex> lock(run_mu_);
  if (thread_.joinable()) return true;
  if (stop_requested_) return false;
  Resync();
  last_resync_at_ = clock_->Steady();
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& error) {
    Warn(fmt::format("cannot start the sampling thread: {}", error.what()));
    return false;
  }
  return true;
}

void Watchdog::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_requested_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  lookups_.Shutdown();
  stops_.Shutdown();
}

void Watchdog::Run() {
  steady_clock::time_point next = steady_clock::now();
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!stop_requested_) {
    lock.unlock();
    Tick();
    lock.lock();
    // A late tick is not made up for: the CPU ratio uses measured time.
    next = std::max(next + config_.interval, steady_clock::now());
    run_cv_.wait_until(lock, next, [this] { return stop_requested_; });
  }
}

void Watchdog::Register(const std::string& container_id) {
  if (!config_.enabled || container_id.empty()) return;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (!known_ids_.insert(container_id).second) return;  // already watched or pending
  }
  if (!lookups_.Post([this, container_id] { Lookup(container_id); })) {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    known_ids_.erase(container_id);
    ++stats_.registrations_failed;
  }
}

void Watchdog::Forget(const std::string& container_id) {
  if (!config_.enabled) return;
  std::lock_guard<std::mutex> lock(inbox_mu_);
  // Erased now, so that a lookup still in flight for it is dropped at the
  // next tick instead of watched.
  known_ids_.erase(container_id);
  forgotten_.push_back(container_id);
}

void Watchdog::Resync() {
  if (!config_.enabled) return;
  lookups_.Post([this] { ResyncNow(); });
}

void Watchdog::WaitIdle() {
  lookups_.WaitIdle();
  stops_.WaitIdle();
}

WatchdogStats Watchdog::stats() const {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  return stats_;
}

void Watchdog::Warn(std::string_view message) { warn_(message); }

// On the lookup queue. Leaves the id in known_ids_ only when the container
// is handed to the Tick thread.
void Watchdog::Lookup(const std::string& container_id) {
  auto forget_id = [&](bool failed) {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    known_ids_.erase(container_id);
    if (failed) ++stats_.registrations_failed;
  };
  ContainerFacts facts;
  grpc::Status status = runtime_->Status(container_id, &facts);
  if (!status.ok()) {
    Warn(fmt::format("container {}: not watched: ContainerStatus failed: {}", container_id,
                     status.error_message()));
    forget_id(true);
    return;
  }
  if (facts.state != ContainerRunState::kRunning) {
    forget_id(false);  // exited already, or never ran: nothing to watch
    return;
  }
  auto reader = cgroups_->Open({facts.pid, facts.cgroups_path});
  if (!reader.ok()) {
    Warn(fmt::format("container {}: not watched: {}", container_id, reader.status().message()));
    forget_id(true);
    return;
  }
  auto watched = std::make_unique<Watched>();
  watched->thresholds = config_.ThresholdsFor(facts.labels);
  watched->is_protected = config_.IsProtected(facts.pod_namespace, facts.labels);
  watched->facts = std::move(facts);
  watched->facts.id = container_id;
  watched->reader = std::move(*reader);
  std::lock_guard<std::mutex> lock(inbox_mu_);
  added_.push_back(std::move(watched));
}

// On the lookup queue.
void Watchdog::ResyncNow() {
  std::vector<std::string> running;
  grpc::Status status = runtime_->ListRunning(&running);
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    last_resync_failed_ = !status.ok();
  }
  if (!status.ok()) {
    Warn(fmt::format("resync: ListContainers failed, retrying in {} s: {}", kResyncRetry.count(),
                     status.error_message()));
    return;
  }
  for (const std::string& id : running) {
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      if (!known_ids_.insert(id).second) continue;
    }
    Lookup(id);
  }
}

void Watchdog::Tick() {
  std::chrono::nanoseconds cpu_before = ThreadCpuTime();
  steady_clock::time_point now = clock_->Steady();
  DrainInbox(now);
  bool retry_resync;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    retry_resync = last_resync_failed_ && now >= last_resync_at_ + kResyncRetry;
  }
  bool resync_due =
      config_.resync_interval.count() > 0 && now >= last_resync_at_ + config_.resync_interval;
  if (retry_resync || resync_due) {
    Resync();
    last_resync_at_ = now;
  }
  SampleContainers(now);
  SampleNode();
  MaybeAct(now);
  std::chrono::nanoseconds spent = ThreadCpuTime() - cpu_before;
  std::lock_guard<std::mutex> lock(inbox_mu_);
  ++stats_.ticks;
  stats_.watched = watched_.size();
  stats_.last_tick_cpu = spent;
  stats_.tick_cpu_total += spent;
}

void Watchdog::DrainInbox(steady_clock::time_point now) {
  std::vector<std::unique_ptr<Watched>> added;
  std::vector<std::string> forgotten;
  std::vector<StopDone> stops_done;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    added.swap(added_);
    forgotten.swap(forgotten_);
    stops_done.swap(stops_done_);
    // Forgotten while its lookup was in flight: not watched.
    for (auto& watched : added) {
      if (known_ids_.count(watched->facts.id) == 0) watched.reset();
    }
  }
  for (auto& watched : added) {
    if (!watched) continue;
    std::string id = watched->facts.id;
    watched_.emplace(id, std::move(watched));  // a duplicate keeps the one already sampled
  }
  for (const std::string& id : forgotten) watched_.erase(id);
  for (const StopDone& done : stops_done) {
    stop_in_flight_ = false;
    cooldown_until_ = now + config_.cooldown;
    // Fresh evidence is needed after any action: the last samples still
    // include the stopped container's load.
    node_cpu_.Reset();
    node_memory_.Reset();
    node_cpu_pressure_.Reset();
    node_memory_pressure_.Reset();
    for (auto& [id, watched] : watched_) {
      watched->cpu.Reset();
      watched->memory.Reset();
      watched->pids.Reset();
    }
    auto it = watched_.find(done.container_id);
    if (it == watched_.end()) continue;
    if (done.ok) {
      watched_.erase(it);
      std::lock_guard<std::mutex> lock(inbox_mu_);
      known_ids_.erase(done.container_id);
    } else {
      it->second->stopping = false;  // may be chosen again after the cool-down
    }
  }
}

// Node-wide means what the containers use, never the host's own load: a
// busy host with idle containers must stop nothing.
void Watchdog::SampleNode() {
  std::optional<double> cores;
  std::optional<uint64_t> memory;
  std::optional<double> cpu_pressure, memory_pressure;
  for (const auto& [id, watched] : watched_) {
    if (watched->cpu_cores) cores = cores.value_or(0) + *watched->cpu_cores;
    if (watched->working_set) memory = memory.value_or(0) + *watched->working_set;
    if (watched->cpu_pressure)
      cpu_pressure = std::max(cpu_pressure.value_or(0), *watched->cpu_pressure);
    if (watched->memory_pressure) {
      memory_pressure = std::max(memory_pressure.value_or(0), *watched->memory_pressure);
    }
  }
  containers_cpu_cores_ = cores.value_or(0);
  containers_memory_bytes_ = memory.value_or(0);
  std::optional<double> cpu_ratio, memory_ratio;
  if (cores && node_capacity_.cpus > 0) cpu_ratio = *cores / node_capacity_.cpus;
  if (memory && node_capacity_.memory_bytes > 0) {
    memory_ratio = static_cast<double>(*memory) / static_cast<double>(node_capacity_.memory_bytes);
  }
  Observe(node_cpu_, cpu_ratio, config_.node_cpu, "node_cpu");
  Observe(node_memory_, memory_ratio, config_.node_memory, "node_memory");
  Observe(node_cpu_pressure_, cpu_pressure, config_.node_cpu_pressure, "node_cpu_pressure");
  Observe(node_memory_pressure_, memory_pressure, config_.node_memory_pressure,
          "node_memory_pressure");
}

void Watchdog::SampleContainers(steady_clock::time_point now) {
  std::vector<std::string> vanished;
  for (auto& [id, watched] : watched_) {
    Sample sample = watched->reader->Read();
    if (sample.gone) {
      vanished.push_back(id);
      continue;
    }
    const Sample* previous = watched->previous ? &*watched->previous : nullptr;
    ContainerRatios ratios = ComputeContainerRatios(
        previous, sample, Seconds(now - watched->previous_at), node_capacity_);
    Observe(watched->cpu, ratios.cpu, watched->thresholds.cpu, "cpu");
    Observe(watched->memory, ratios.memory, watched->thresholds.memory, "memory");
    Observe(watched->pids, ratios.pids, watched->thresholds.pids, "pids");
    watched->cpu_cores = ratios.cpu_cores;
    watched->working_set = ratios.memory_bytes;
    watched->cpu_pressure.reset();
    watched->memory_pressure.reset();
    if (sample.cpu_pressure) watched->cpu_pressure = sample.cpu_pressure->some_avg10 / 100.0;
    if (sample.memory_pressure) {
      watched->memory_pressure = sample.memory_pressure->some_avg10 / 100.0;
    }
    watched->previous = sample;
    watched->previous_at = now;
  }
  if (vanished.empty()) return;
  for (const std::string& id : vanished) watched_.erase(id);
  std::lock_guard<std::mutex> lock(inbox_mu_);
  for (const std::string& id : vanished) known_ids_.erase(id);
}

void Watchdog::MaybeAct(steady_clock::time_point now) {
  if (stop_in_flight_ || now < cooldown_until_) return;
  const int samples = config_.samples;

  // A container's own sustained breach: the most recently started offender.
  Watched* offender = nullptr;
  const char* offender_resource = nullptr;
  const BreachCounter* offender_counter = nullptr;
  double offender_threshold = 0;
  for (auto& [id, watched] : watched_) {
    if (watched->stopping) continue;
    struct {
      const char* name;
      const BreachCounter& counter;
      double threshold;
    } resources[] = {{"cpu", watched->cpu, watched->thresholds.cpu},
                     {"memory", watched->memory, watched->thresholds.memory},
                     {"pids", watched->pids, watched->thresholds.pids}};
    for (const auto& resource : resources) {
      if (!resource.counter.Sustained(samples)) continue;
      if (watched->is_protected) {
        if (!watched->warned_protected) {
          Warn(fmt::format(
              "container {} ({}/{}): {} ratio {:.2f} over {:.2f} for {} samples, but "
              "it is protected: not stopped",
              id, watched->facts.pod_namespace, watched->facts.name, resource.name,
              resource.counter.last_ratio, resource.threshold, resource.counter.consecutive));
          watched->warned_protected = true;
        }
        break;
      }
      bool more_recent = offender == nullptr ||
                         watched->facts.started_at_ns > offender->facts.started_at_ns ||
                         (watched->facts.started_at_ns == offender->facts.started_at_ns &&
                          id > offender->facts.id);
      if (more_recent) {
        offender = watched.get();
        offender_resource = resource.name;
        offender_counter = &resource.counter;
        offender_threshold = resource.threshold;
      }
      break;
    }
  }
  if (offender != nullptr) {
    // A more recently started container whose own breach is still building
    // (over its threshold, not yet for `samples` in a row) is waited for,
    // not passed over: it was registered later (after a restart, the
    // lookups run one by one), so its run began a tick or two later. The
    // wait ends within `samples` ticks: its run completes, or breaks.
    for (const auto& [id, watched] : watched_) {
      if (watched->stopping || watched->is_protected || watched.get() == offender) continue;
      if (watched->facts.started_at_ns <= offender->facts.started_at_ns) continue;
      for (const BreachCounter* counter : {&watched->cpu, &watched->memory, &watched->pids}) {
        if (counter->consecutive > 0 && !counter->Sustained(samples)) return;
      }
    }
    StartStop(*offender, offender_resource, *offender_counter, offender_threshold, 1.0);
    return;
  }

  // A node-wide sustained breach: every configured trigger of a resource
  // (the containers' share, their pressure) sustained. The victim is the most
  // recently started container among those that use at least
  // victim_min_share of what the containers use together.
  struct NodeTrigger {
    const char* resource;
    const BreachCounter* counter;  // the one reported
    double threshold;
    bool cpu;
  };
  auto breached = [&](double share_threshold, const BreachCounter& share, double pressure_threshold,
                      const BreachCounter& pressure) {
    if (share_threshold <= 0 && pressure_threshold <= 0) return false;
    if (share_threshold > 0 && !share.Sustained(samples)) return false;
    if (pressure_threshold > 0 && !pressure.Sustained(samples)) return false;
    return true;
  };
  std::optional<NodeTrigger> trigger;
  if (breached(config_.node_cpu, node_cpu_, config_.node_cpu_pressure, node_cpu_pressure_)) {
    trigger = config_.node_cpu > 0 ? NodeTrigger{"node_cpu", &node_cpu_, config_.node_cpu, true}
                                   : NodeTrigger{"node_cpu_pressure", &node_cpu_pressure_,
                                                 config_.node_cpu_pressure, true};
  } else if (breached(config_.node_memory, node_memory_, config_.node_memory_pressure,
                      node_memory_pressure_)) {
    trigger = config_.node_memory > 0
                  ? NodeTrigger{"node_memory", &node_memory_, config_.node_memory, false}
                  : NodeTrigger{"node_memory_pressure", &node_memory_pressure_,
                                config_.node_memory_pressure, false};
  }
  if (!trigger) {
    warned_no_victim_ = false;
    return;
  }
  const double total =
      trigger->cpu ? containers_cpu_cores_ : static_cast<double>(containers_memory_bytes_);
  Watched* victim = nullptr;
  double victim_share = 0;
  for (auto& [id, watched] : watched_) {
    if (watched->stopping || watched->is_protected) continue;
    double used = trigger->cpu ? watched->cpu_cores.value_or(0)
                               : static_cast<double>(watched->working_set.value_or(0));
    double share = total > 0 ? used / total : 0;
    if (share <= 0 || share < config_.victim_min_share) continue;
    if (victim == nullptr || watched->facts.started_at_ns > victim->facts.started_at_ns ||
        (watched->facts.started_at_ns == victim->facts.started_at_ns && id > victim->facts.id)) {
      victim = watched.get();
      victim_share = share;
    }
  }
  if (victim != nullptr) {
    StartStop(*victim, trigger->resource, *trigger->counter, trigger->threshold, victim_share);
  } else if (!warned_no_victim_) {
    Warn(fmt::format(
        "{} ratio {:.2f} over {:.2f} for {} samples, but no unprotected container uses at least "
        "{:.0f}% of what the containers use: nothing stopped",
        trigger->resource, trigger->counter->last_ratio, trigger->threshold,
        trigger->counter->consecutive, config_.victim_min_share * 100));
    warned_no_victim_ = true;
  }
}

void Watchdog::StartStop(Watched& victim, const char* resource, const BreachCounter& counter,
                         double threshold, double share) {
  StopAction action;
  action.container_id = victim.facts.id;
  action.container_name = victim.facts.name;
  action.pod_name = victim.facts.pod_name;
  action.pod_namespace = victim.facts.pod_namespace;
  action.resource = resource;
  action.ratio = counter.last_ratio;
  action.threshold = threshold;
  action.samples = counter.consecutive;
  action.share = share;
  action.started_at_ns = victim.facts.started_at_ns;
  action.grace_seconds = config_.grace_seconds;
  action.decided_at = clock_->Now();
  bool posted = stops_.Post([this, action]() mutable {
    action.result = runtime_->Stop(action.container_id, action.grace_seconds);
    reporter_->Report(action);
    StopsCounter(action.resource, action.result.ok()).Inc();
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (action.result.ok()) {
      ++stats_.stops_ok;
    } else {
      ++stats_.stops_failed;
    }
    stops_done_.push_back({action.container_id, action.result.ok()});
  });
  if (!posted) return;  // shutting down
  victim.stopping = true;
  stop_in_flight_ = true;
}

}  // namespace crigate::monitor
