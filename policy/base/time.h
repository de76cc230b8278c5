// Time behind one interface. Wall time for what is compared with other
// machines (token and approval expiry, audit timestamps), steady time for
// intervals and cool-downs; tests move both without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace crigate::base {

using WallTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual SteadyTime Steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  // One shared instance; stateless, so safe from every thread.
  static const SystemClock& Instance();
};

// "2026-11-26T10:00:00Z" (whole seconds) or, with millis, "2026-11-26T10:00:00.123Z".
std::string FormatUtc(WallTime t, bool millis = false);
// Seconds since the epoch, as JWT NumericDate.
int64_t ToUnixSeconds(WallTime t);
// Clamped to what system_clock can hold (years 1678-2262).
WallTime FromUnixSeconds(int64_t seconds);

}  // namespace crigate::base
