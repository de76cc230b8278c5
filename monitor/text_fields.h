// Small tokenising helpers shared by the monitor's parsers of kernel text
// (cgroup files, /proc). Internal to monitor/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace crigate::monitor {

// `text` without one trailing '\n'.
std::string_view TrimNewline(std::string_view text);

// Lines of `text`, without their '\n'; a final empty line is not returned.
std::vector<std::string_view> SplitLines(std::string_view text);

// Removes and returns the next space- or tab-separated field of `*rest`;
// empty when none is left.
std::string_view NextField(std::string_view& rest);

// The whole of `text` as a decimal unsigned integer (no sign, no spaces).
std::optional<uint64_t> ParseWholeUint(std::string_view text);

// The whole of `text` as a finite, non-negative decimal number.
std::optional<double> ParseWholeDouble(std::string_view text);

}  // namespace crigate::monitor
