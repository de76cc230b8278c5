#include "policy/base/time.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace crigate::base {

const SystemClock& SystemClock::Instance() {
  static const SystemClock kClock;
  return kClock;
}

std::string FormatUtc(WallTime t, bool millis) {
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
  char text[48];
  if (gmtime_r(&tt, &tm) == nullptr) {
    (void)std::snprintf(text, sizeof(text), "@%lld", static_cast<long long>(seconds));
    return text;
  }
  if (millis) {
    (void)std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, static_cast<int>(frac));
  } else {
    (void)std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return text;
}

int64_t ToUnixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

WallTime FromUnixSeconds(int64_t seconds) {
  // Converting a larger count to system_clock's nanoseconds overflows, which
  // is undefined behaviour.
  constexpr int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(WallTime::duration::max()).count() - 1;
  seconds = std::max(-kLimit, std::min(kLimit, seconds));
  return WallTime(std::chrono::seconds(seconds));
}

}  // namespace crigate::base
