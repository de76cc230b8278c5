// Wall-clock time behind an interface: token expiry, replay expiry and audit
// timestamps read it, and tests move it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace crigate::policy {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // One shared instance; stateless, so safe from every thread.
  static const SystemClock& Instance();
};

// "2026-11-26T10:00:00Z" (whole seconds) or, with millis, "2026-11-26T10:00:00.123Z".
std::string FormatUtc(TimePoint t, bool millis = false);
// Seconds since the epoch, as JWT NumericDate.
int64_t ToUnixSeconds(TimePoint t);
TimePoint FromUnixSeconds(int64_t seconds);

}  // namespace crigate::policy
