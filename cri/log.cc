#include "cri/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "policy/base/time.h"

namespace crigate::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const char* Name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info ";
    case Level::kWarn:
      return "warn ";
    case Level::kError:
      return "error";
  }
  return "?    ";
}
}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool ParseLevel(std::string_view text, Level* level) {
  if (text == "debug")
    *level = Level::kDebug;
  else if (text == "info")
    *level = Level::kInfo;
  else if (text == "warn")
    *level = Level::kWarn;
  else if (text == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

void Write(Level level, std::string_view message) {
  std::string line = fmt::format(
      "{} {} {}\n", base::FormatUtc(std::chrono::system_clock::now(), true), Name(level), message);
  // One write per line keeps lines whole when threads log at once.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace crigate::log
