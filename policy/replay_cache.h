// Remembers which token uses were accepted, until the tokens expire, so that
// each is accepted once. Bounded: when full of unexpired entries it refuses
// new ones (fail closed) rather than forget an old one, which would let that
// one be replayed. Thread-safe.
//
// In memory only: a restart of crigate forgets what was used. token.max_ttl
// bounds how long a token captured before a restart stays replayable.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "policy/clock.h"

namespace crigate::policy {

class ReplayCache final {
 public:
  enum class Outcome { kAccepted, kReplayed, kFull };

  explicit ReplayCache(size_t capacity) : capacity_(capacity) {}

  // Accepts key once: kReplayed if it was accepted before and has not yet
  // expired; kFull when capacity unexpired entries are held. Entries whose
  // expires is before now are dropped first.
  Outcome Accept(const std::string& key, TimePoint expires, TimePoint now);

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  void DropExpired(TimePoint now);  // requires mu_

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TimePoint> expiry_;  // guarded by mu_
  std::set<std::pair<TimePoint, std::string>>
      by_expiry_;  // guarded by mu_; same entries, oldest first
};

}  // namespace crigate::policy
