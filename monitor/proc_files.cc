#include "proc_files.h"

#include "text_fields.h"

namespace crigate::monitor {

std::optional<CpuTimes> ParseProcStatCpu(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  if (NextField(line) != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal [guest guest_nice]
  uint64_t fields[8] = {};
  for (uint64_t& field : fields) {
    std::optional<uint64_t> value = ParseWholeUint(NextField(line));
    if (!value) return std::nullopt;
    field = *value;
  }
  CpuTimes times;
  for (uint64_t field : fields) times.total += field;
  times.busy = times.total - fields[3] - fields[4];
  return times;
}

std::optional<MemInfo> ParseMeminfo(std::string_view text) {
  std::optional<uint64_t> total;
  std::optional<uint64_t> available;
  for (std::string_view line : SplitLines(text)) {
    std::string_view key = NextField(line);
    std::optional<uint64_t>* slot = key == "MemTotal:"       ? &total
                                    : key == "MemAvailable:" ? &available
                                                             : nullptr;
    if (slot == nullptr) continue;
    std::optional<uint64_t> kib = ParseWholeUint(NextField(line));
    if (!kib || NextField(line) != "kB") return std::nullopt;
    *slot = *kib * 1024;
    if (total && available) break;
  }
  if (!total || !available || *total == 0) return std::nullopt;
  return MemInfo{*total, *available};
}

}  // namespace crigate::monitor
