#include "policy/replay_cache.h"

namespace crigate::policy {

void ReplayCache::DropExpired(TimePoint now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
    expiry_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

ReplayCache::Outcome ReplayCache::Accept(const std::string& key, TimePoint expires, TimePoint now) {
  std::lock_guard lock(mu_);
  DropExpired(now);
  if (expiry_.count(key)) return Outcome::kReplayed;
  if (expiry_.size() >= capacity_) return Outcome::kFull;
  expiry_.emplace(key, expires);
  by_expiry_.emplace(expires, key);
  return Outcome::kAccepted;
}

size_t ReplayCache::size() const {
  std::lock_guard lock(mu_);
  return expiry_.size();
}

}  // namespace crigate::policy
