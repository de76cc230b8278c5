// Prometheus metrics: counters, gauges and histograms with label sets, and
// the registry that writes them in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// The hot path is one atomic add: a part resolves the label children it
// will use once (Family::With takes a mutex) and keeps the references,
// which stay valid as long as the registry. Values whose truth lives in a
// part (a queue's depth, a store's size) are read at scrape time through a
// callback (Registry::AddGaugeCallback) instead of being mirrored.
//
//   static auto& stops = base::DefaultRegistry().Counters(
//       "crigate_watchdog_stops_total", "Containers stopped", {"resource"});
//   Counter& cpu_stops = stops.With({"cpu"});   // once
//   cpu_stops.Inc();                             // per event: one atomic add
//
// Names and labels follow Prometheus' conventions: counters end in _total,
// durations are histograms in seconds. Registering a name twice with the
// same type and labels returns the first family (several parts, or several
// instances of one, may ask for it); with another type or other labels it is
// a programming error and aborts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace crigate::base {

class Counter final {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A whole-number gauge (depths, sizes, flags).
class Gauge final {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram final {
 public:
  // bounds: the upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  void ObserveSeconds(std::chrono::nanoseconds d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts, one per bound and a last one for +Inf (== Count()).
  std::vector<uint64_t> Cumulative() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets from 50 µs to 10 s: CRI calls answered by containerd on a
// gateway take from about 100 µs (Version) to seconds (PullImage).
const std::vector<double>& LatencyBuckets();

// One metric name with its label names, and a child per label-value set.
template <typename Metric>
class Family final {
 public:
  // The child for these label values (as many as the label names), made on
  // first use. Takes a mutex: resolve once, then keep the reference.
  Metric& With(std::initializer_list<std::string_view> values) {
    return With(std::vector<std::string>(values.begin(), values.end()));
  }
  Metric& With(std::vector<std::string> values);

  // For the exposition: every child with its label values, in label order.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, metric] : children_) visit(values, *metric);
  }

 private:
  friend class Registry;
  Family(std::vector<std::string> labels, std::vector<double> bounds)
      : labels_(std::move(labels)), bounds_(std::move(bounds)) {}
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;  // guarded by mu_
};

template <typename Metric>
Metric& Family<Metric>::With(std::vector<std::string> values) {
  if (values.size() != labels_.size()) std::abort();  // a programming error, as in Registry
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Metric>& child = children_[std::move(values)];
  if (!child) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<Metric>();
    }
  }
  return *child;
}

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry final {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& Counters(std::string_view name, std::string_view help,
                          std::vector<std::string> labels = {});
  GaugeFamily& Gauges(std::string_view name, std::string_view help,
                      std::vector<std::string> labels = {});
  HistogramFamily& Histograms(std::string_view name, std::string_view help,
                              std::vector<std::string> labels = {},
                              std::vector<double> bounds = LatencyBuckets());
  // One unlabelled gauge whose value read() gives at scrape time. read runs
  // on the scraping thread and must be thread-safe and quick; it must stay
  // callable as long as this registry is scraped (the owner of what it reads
  // owns a registry of its own, destroyed first). Added again under the
  // same name, the new read replaces the old.
  void AddGaugeCallback(std::string_view name, std::string_view help, std::function<double()> read);
  // The same for a counter a part keeps itself (read must never decrease).
  void AddCounterCallback(std::string_view name, std::string_view help,
                          std::function<double()> read);

  // Every family in registration order, in the text format 0.0.4.
  std::string Exposition() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram, kGaugeCallback, kCounterCallback };
  struct Entry {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::string> labels;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<GaugeFamily> gauges;
    std::unique_ptr<HistogramFamily> histograms;
    std::function<double()> read;
  };
  Entry& Find(std::string_view name, std::string_view help, Type type,
              const std::vector<std::string>& labels, bool* created);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // guarded by mu_; never removed
};

// The process's registry, where every part registers what it counts. Never
// destroyed, so a part's static references stay valid to the very end.
Registry& DefaultRegistry();

// value as a label value in the exposition: backslash, double quote and line
// feed escaped.
std::string EscapeLabelValue(std::string_view value);

}  // namespace crigate::base
