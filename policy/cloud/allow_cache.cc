#include "policy/cloud/allow_cache.h"

#include "policy/base/metrics.h"

namespace crigate::cloud {
namespace {

// crigate_cloud_cache_{hits,misses,evictions}_total, shared by every cache
// (a reload builds a new one).
struct CacheMetrics {
  base::Counter& hits;
  base::Counter& misses;
  base::Counter& evictions;
};

const CacheMetrics& Metrics() {
  static const CacheMetrics metrics{
      base::DefaultRegistry()
          .Counters("crigate_cloud_cache_hits_total",
                    "Cloud authorizations answered by a cached allow.")
          .With({}),
      base::DefaultRegistry()
          .Counters("crigate_cloud_cache_misses_total",
                    "Cloud authorizations the cache could not answer (asked of the cloud).")
          .With({}),
      base::DefaultRegistry()
          .Counters("crigate_cloud_cache_evictions_total",
                    "Live cached allows pushed out to make room (cloud.cache_size).")
          .With({})};
  return metrics;
}

}  // namespace

AllowCache::AllowCache(std::chrono::milliseconds ttl, size_t capacity, const base::Clock& clock)
    : ttl_(ttl), capacity_(ttl.count() > 0 ? capacity : 0), clock_(clock) {
  Metrics();  // registered (at 0) as soon as there is a cache
}

void AllowCache::EraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.order);
  entries_.erase(it);
}

std::optional<std::string> AllowCache::Find(const std::string& key) {
  if (capacity_ == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Metrics().misses.Inc();
    return std::nullopt;
  }
  if (clock_.Steady() >= it->second.expires) {
    EraseLocked(it);
    Metrics().misses.Inc();
    return std::nullopt;
  }
  Metrics().hits.Inc();
  return it->second.decision_id;
}

void AllowCache::Insert(const std::string& key, std::string decision_id) {
  if (capacity_ == 0) return;
  const base::SteadyTime now = clock_.Steady();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
  // Expired entries are at the front; drop them, then the oldest live ones
  // while full.
  while (!order_.empty()) {
    auto oldest = entries_.find(order_.front());
    const bool live = oldest->second.expires > now;
    if (live && entries_.size() < capacity_) break;
    if (live) Metrics().evictions.Inc();
    EraseLocked(oldest);
  }
  order_.push_back(key);
  entries_.emplace(key, Entry{now + ttl_, std::move(decision_id), std::prev(order_.end())});
}

void AllowCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  order_.clear();
}

size_t AllowCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace crigate::cloud
