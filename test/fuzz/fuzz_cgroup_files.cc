// The watchdog's parsers of kernel files (cgroup v1/v2, PSI, /proc), on
// arbitrary text: what a container could influence (its cgroup path) or a
// kernel of another version could print.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "monitor/cgroup_files.h"
#include "monitor/cgroup_location.h"
#include "monitor/cgroup_mounts.h"
#include "monitor/proc_files.h"
#include "monitor/text_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crigate::monitor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseCounter(text);
  (void)ParseSigned(text);
  (void)ParseLimit(text);
  (void)ParseV1MemoryLimit(text);
  (void)ParseStatField(text, "inactive_file");
  (void)ParseCpuStatUsageUsec(text);
  (void)ParseV2InactiveFile(text);
  (void)ParseV1InactiveFile(text);
  (void)ParseV2CpuMaxCores(text);
  (void)ParseCpuListCount(text);
  (void)ParsePressure(text);
  (void)ParseProcStatCpu(text);
  (void)ParseMeminfo(text);
  (void)ParseWholeUint(text);
  (void)ParseWholeDouble(text);
  (void)LocationFromProcCgroup(text);
  (void)LocationFromCgroupsPath(text, {"cpu", "cpuacct", "memory", "pids"});
  (void)CgroupMounts::FromMountinfo(text);
  for (std::string_view rest = text; !rest.empty();) {
    if (NextField(rest).empty()) break;
  }
  return 0;
}
