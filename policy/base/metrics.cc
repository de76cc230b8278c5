#include "policy/base/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace crigate::base {
namespace {

// A sample value as Prometheus writes it: integers without a fraction,
// +Inf/-Inf/NaN spelled its way, anything else with enough digits to read
// back the same double.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buffer[32];
  for (int precision = 6; precision <= 17; ++precision) {  // the shortest that reads back
    (void)std::snprintf(buffer, sizeof(buffer), "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}

// HELP text: backslash and line feed escaped (quotes stay as they are).
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} (with extra appended last, e.g. le), or "" with no labels.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

bool ValidName(std::string_view name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!letter && (i == 0 || c < '0' || c > '9')) return false;
  }
  return !(label && name.rfind("__", 0) == 0);
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) std::abort();
}

void Histogram::Observe(double value) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::Cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               0.5,     1,      2.5,     5,      10};
  return kBuckets;
}

Registry::Entry& Registry::Find(std::string_view name, std::string_view help, Type type,
                                const std::vector<std::string>& labels, bool* created) {
  // Bad names or a name registered twice differently are programming
  // errors, found by the first test that registers them.
  if (!ValidName(name, false)) std::abort();
  for (const std::string& label : labels) {
    if (!ValidName(label, true) || label == "le") std::abort();
  }
  for (const auto& entry : entries_) {
    if (entry->name != name) continue;
    if (entry->type != type || entry->labels != labels) std::abort();
    *created = false;
    return *entry;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = type;
  entry->labels = labels;
  entries_.push_back(std::move(entry));
  *created = true;
  return *entries_.back();
}

CounterFamily& Registry::Counters(std::string_view name, std::string_view help,
                                  std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool created = false;
  Entry& entry = Find(name, help, Type::kCounter, labels, &created);
  if (created) entry.counters.reset(new CounterFamily(std::move(labels), {}));
  return *entry.counters;
}

GaugeFamily& Registry::Gauges(std::string_view name, std::string_view help,
                              std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool created = false;
  Entry& entry = Find(name, help, Type::kGauge, labels, &created);
  if (created) entry.gauges.reset(new GaugeFamily(std::move(labels), {}));
  return *entry.gauges;
}

HistogramFamily& Registry::Histograms(std::string_view name, std::string_view help,
                                      std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  bool created = false;
  Entry& entry = Find(name, help, Type::kHistogram, labels, &created);
  if (created) entry.histograms.reset(new HistogramFamily(std::move(labels), std::move(bounds)));
  return *entry.histograms;
}

void Registry::AddGaugeCallback(std::string_view name, std::string_view help,
                                std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  bool created = false;
  Find(name, help, Type::kGaugeCallback, {}, &created).read = std::move(read);
}

void Registry::AddCounterCallback(std::string_view name, std::string_view help,
                                  std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  bool created = false;
  Find(name, help, Type::kCounterCallback, {}, &created).read = std::move(read);
}

std::string Registry::Exposition() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(entries_.size() * 256);
  for (const auto& entry : entries_) {
    const char* type = entry->type == Type::kCounter || entry->type == Type::kCounterCallback
                           ? "counter"
                       : entry->type == Type::kHistogram ? "histogram"
                                                         : "gauge";
    out += "# HELP " + entry->name + ' ' + EscapeHelp(entry->help) + '\n';
    out += "# TYPE " + entry->name + ' ' + type + '\n';
    switch (entry->type) {
      case Type::kCounter:
        entry->counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
          out += entry->name + LabelText(entry->labels, values) + ' ' + std::to_string(c.Value()) +
                 '\n';
        });
        break;
      case Type::kGauge:
        entry->gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          out += entry->name + LabelText(entry->labels, values) + ' ' + std::to_string(g.Value()) +
                 '\n';
        });
        break;
      case Type::kGaugeCallback:
      case Type::kCounterCallback:
        out += entry->name + ' ' + FormatValue(entry->read()) + '\n';
        break;
      case Type::kHistogram:
        entry->histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
          // _count is the +Inf bucket of the same read, so the two agree
          // even while Observe runs.
          const std::vector<uint64_t> cumulative = h.Cumulative();
          const double sum = h.Sum();
          for (size_t i = 0; i < h.bounds().size(); ++i) {
            out += entry->name + "_bucket" +
                   LabelText(entry->labels, values, "le", FormatValue(h.bounds()[i])) + ' ' +
                   std::to_string(cumulative[i]) + '\n';
          }
          const std::string labels = LabelText(entry->labels, values);
          out += entry->name + "_bucket" + LabelText(entry->labels, values, "le", "+Inf") + ' ' +
                 std::to_string(cumulative.back()) + '\n';
          out += entry->name + "_sum" + labels + ' ' + FormatValue(sum) + '\n';
          out += entry->name + "_count" + labels + ' ' + std::to_string(cumulative.back()) + '\n';
        });
        break;
    }
  }
  return out;
}

Registry& DefaultRegistry() {
  static Registry* const registry = new Registry();  // never destroyed: see the header
  return *registry;
}

}  // namespace crigate::base
