// The one settable clock for tests: wall and steady time move together.
// Safe to advance from the test while the code under test reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "policy/base/time.h"

namespace crigate::base {

class FakeClock final : public Clock {
 public:
  // Starts at unix_seconds (wall) and at as many seconds of steady time.
  explicit FakeClock(int64_t unix_seconds = 1'790'000'000)
      : ns_(std::chrono::nanoseconds(std::chrono::seconds(unix_seconds)).count()) {}

  WallTime Now() const override {
    return WallTime(
        std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(ns_.load())));
  }
  SteadyTime Steady() const override {
    return SteadyTime(
        std::chrono::duration_cast<SteadyTime::duration>(std::chrono::nanoseconds(ns_.load())));
  }
  template <typename Rep, typename Period>
  void Advance(std::chrono::duration<Rep, Period> by) {
    ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(by).count());
  }
  void Set(int64_t unix_seconds) {
    ns_.store(std::chrono::nanoseconds(std::chrono::seconds(unix_seconds)).count());
  }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace crigate::base
