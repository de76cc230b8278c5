// Logging for an operator reading the gateway's log at 3 a.m.: one line per
// event, "2026-11-26T21:54:19.123Z info  message", to stderr (the service
// manager keeps it). Thread-safe; each line is written with one write(2).
// With log.format = "json" (journald, log shippers) each line is one JSON
// object with the same fields:
//   {"time":"2026-11-26T21:54:19.123Z","level":"info","message":"..."}
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace crigate::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
// Parses "text", "json"; false on anything else.
bool ParseFormat(std::string_view text, Format* format);
// The line Write writes, for a given time (tests).
std::string FormatLine(std::string_view time, Level level, std::string_view message);
bool Enabled(Level level);
// Parses "debug", "info", "warn", "error"; false on anything else.
bool ParseLevel(std::string_view text, Level* level);
void Write(Level level, std::string_view message);

template <typename... Args>
void Debug(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kDebug))
    Write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kError))
    Write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace crigate::log
