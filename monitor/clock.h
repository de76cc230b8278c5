// Time as the watchdog sees it, behind an interface so that tests drive
// consecutive samples and cool-downs without sleeping.
#pragma once

#include <chrono>

namespace crigate::monitor {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() = 0;
};

class SteadyClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point Now() override { return std::chrono::steady_clock::now(); }
};

}  // namespace crigate::monitor
