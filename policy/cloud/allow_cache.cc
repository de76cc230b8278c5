#include "policy/cloud/allow_cache.h"

namespace crigate::cloud {

AllowCache::AllowCache(std::chrono::milliseconds ttl, size_t capacity, const base::Clock& clock)
    : ttl_(ttl), capacity_(ttl.count() > 0 ? capacity : 0), clock_(clock) {}

void AllowCache::EraseLocked(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.order);
  entries_.erase(it);
}

std::optional<std::string> AllowCache::Find(const std::string& key) {
  if (capacity_ == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (clock_.Steady() >= it->second.expires) {
    EraseLocked(it);
    return std::nullopt;
  }
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
    if (oldest->second.expires > now && entries_.size() < capacity_) break;
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
