#include "policy/clock.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace crigate::policy {

const SystemClock& SystemClock::Instance() {
  static const SystemClock kClock;
  return kClock;
}

std::string FormatUtc(TimePoint t, bool millis) {
  const auto since = t.time_since_epoch();
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
  int64_t seconds = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {  // before 1970: floor, not truncate
    frac += 1000;
    --seconds;
  }
  std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr) return fmt::format("@{}", seconds);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (millis) out += fmt::format(".{:03}", frac);
  return out + "Z";
}

int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixSeconds(int64_t seconds) {
  // Clamped to what system_clock's nanoseconds can hold (years 1678-2262):
  // converting a larger count overflows, which is undefined behaviour.
  constexpr int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(TimePoint::duration::max()).count() - 1;
  seconds = std::max(-kLimit, std::min(kLimit, seconds));
  return TimePoint(std::chrono::seconds(seconds));
}

}  // namespace crigate::policy
