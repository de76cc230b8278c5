// Counts consecutive samples of one ratio over its threshold: the watchdog
// acts only on a sustained breach, never on one spike.
#pragma once

#include <optional>

namespace crigate::monitor {

struct BreachCounter {
  int consecutive = 0;    // samples in a row over the threshold
  double last_ratio = 0;  // the latest ratio seen, over or not

  // A missing ratio (first sample, unreadable file) or a threshold of 0 (the
  // check is off) breaks the run: only evidence counts towards acting.
  void Observe(std::optional<double> ratio, double threshold) {
    if (ratio) last_ratio = *ratio;
    if (threshold > 0 && ratio && *ratio > threshold) {
      ++consecutive;
    } else {
      consecutive = 0;
    }
  }
  bool Sustained(int samples) const { return consecutive >= samples; }
  void Reset() { consecutive = 0; }
};

}  // namespace crigate::monitor
