// Durations as operators write them in config and on the command line:
// "300s", "5m", "1h", "2d", or a bare number of seconds.
#pragma once

#include <chrono>
#include <string_view>

#include "policy/base/status.h"

namespace crigate::base {

// INVALID_ARGUMENT unless text is a non-negative whole number with an
// optional unit s, m, h or d, at most ten years.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace crigate::base
