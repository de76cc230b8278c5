// The cloud's recent allows, so that a burst of identical calls (kubelet
// retrying, a pod's containers started together) asks the cloud once.
// Only allows are ever stored: a deny or an error is asked again every time.
//
// The key is the hash of the whole cloud input except its nonce (see
// AuthzInput::CacheKey), so an entry is reused only for a call the cloud
// would have seen as the same. Entries expire ttl after the cloud answered;
// when full, the oldest entry goes first (with one TTL for all, the oldest is
// also the one that expires first).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "policy/base/time.h"

namespace crigate::cloud {

class AllowCache final {
 public:
  // ttl or capacity 0: a cache that keeps nothing. clock must outlive the cache.
  AllowCache(std::chrono::milliseconds ttl, size_t capacity,
             const base::Clock& clock = base::SystemClock::Instance());

  // The decision id of a live allow under key.
  std::optional<std::string> Find(const std::string& key);
  void Insert(const std::string& key, std::string decision_id);
  void Clear();
  size_t size() const;

 private:
  struct Entry {
    base::SteadyTime expires;
    std::string decision_id;
    std::list<std::string>::iterator order;
  };

  void EraseLocked(std::unordered_map<std::string, Entry>::iterator it);

  // Constant after construction.
  const std::chrono::milliseconds ttl_;
  const size_t capacity_;
  const base::Clock& clock_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // protected by mu_
  std::list<std::string> order_;                    // keys, oldest first; protected by mu_
};

}  // namespace crigate::cloud
