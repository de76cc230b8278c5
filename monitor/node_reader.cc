#include "node_reader.h"

#include <unistd.h>

#include <algorithm>

#include "cgroup_files.h"

namespace crigate::monitor {
namespace {

uint64_t ReadTunable(const std::string& path) {
  StatFile file(path);
  std::string_view text;
  if (file.Read(&text) != StatFile::Status::kOk) return 0;
  return ParseCounter(text).value_or(0);
}

}  // namespace

ProcNodeReader::ProcNodeReader(const std::string& proc_root)
    // Only the first line of /proc/stat is wanted; its size grows with CPUs.
    : stat_(proc_root + "/stat", 1024, /*allow_truncation=*/true),
      meminfo_(proc_root + "/meminfo", 8192, /*allow_truncation=*/true) {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  capacity_.cpus = cpus > 0 ? static_cast<int>(cpus) : 1;
  NodeSample first = Read();
  if (first.memory_ok) capacity_.memory_bytes = first.memory.total_bytes;
  uint64_t pid_max = ReadTunable(proc_root + "/sys/kernel/pid_max");
  uint64_t threads_max = ReadTunable(proc_root + "/sys/kernel/threads-max");
  if (pid_max == 0 || threads_max == 0) {
    capacity_.task_limit = std::max(pid_max, threads_max);
  } else {
    capacity_.task_limit = std::min(pid_max, threads_max);
  }
}

NodeSample ProcNodeReader::Read() {
  NodeSample sample;
  bool gone = false;
  if (std::optional<CpuTimes> cpu = ReadParsed(stat_, ParseProcStatCpu, &gone)) {
    sample.cpu_ok = true;
    sample.cpu = *cpu;
  }
  if (std::optional<MemInfo> memory = ReadParsed(meminfo_, ParseMeminfo, &gone)) {
    sample.memory_ok = true;
    sample.memory = *memory;
  }
  return sample;
}

}  // namespace crigate::monitor
