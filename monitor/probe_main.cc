// crigate-cgroup-probe: prints the host's cgroup mode and mounts, and two
// samples of one process's (or cgroupsPath's) cgroup with the ratios the
// watchdog would compute. For checking a real host by hand.
//
//   crigate-cgroup-probe [--pid PID] [--cgroups-path PATH] [--interval-ms N]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "host_cgroup_opener.h"
#include "node_reader.h"
#include "ratios.h"

namespace {

using crigate::monitor::Sample;

void PrintPressure(const char* name, const std::optional<crigate::monitor::Pressure>& pressure) {
  if (!pressure) {
    (void)std::printf("  %s: -\n", name);
    return;
  }
  (void)std::printf("  %s: some avg10=%.2f", name, pressure->some_avg10);
  if (pressure->has_full) std::printf(" full avg10=%.2f", pressure->full_avg10);
  (void)std::printf("\n");
}

void PrintSample(const Sample& sample) {
  if (sample.gone) {
    (void)std::printf("  gone (the cgroup vanished)\n");
    return;
  }
  if (sample.cpu_ok) {
    (void)std::printf("  cpu: usage_usec=%llu quota_cores=%.3f cpuset_cpus=%d\n",
                      static_cast<unsigned long long>(sample.cpu_usage_usec),
                      sample.cpu_quota_cores, sample.cpuset_cpus);
  } else {
    (void)std::printf("  cpu: -\n");
  }
  if (sample.memory_ok) {
    (void)std::printf("  memory: current=%llu limit=%llu%s\n",
                      static_cast<unsigned long long>(sample.memory_current),
                      static_cast<unsigned long long>(sample.memory_limit),
                      sample.memory_limit == crigate::monitor::kUnlimited ? " (unlimited)" : "");
  } else {
    (void)std::printf("  memory: -\n");
  }
  if (sample.pids_ok) {
    (void)std::printf("  pids: current=%llu max=%llu%s\n",
                      static_cast<unsigned long long>(sample.pids_current),
                      static_cast<unsigned long long>(sample.pids_max),
                      sample.pids_max == crigate::monitor::kUnlimited ? " (unlimited)" : "");
  } else {
    (void)std::printf("  pids: -\n");
  }
  PrintPressure("cpu.pressure", sample.cpu_pressure);
  PrintPressure("memory.pressure", sample.memory_pressure);
}

void PrintRatio(const char* name, std::optional<double> ratio) {
  if (ratio) {
    (void)std::printf("  %s: %.4f\n", name, *ratio);
  } else {
    (void)std::printf("  %s: -\n", name);
  }
}

int Usage() {
  (void)std::fprintf(
      stderr, "usage: crigate-cgroup-probe [--pid PID] [--cgroups-path PATH] [--interval-ms N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace crigate::monitor;
  CgroupRef ref;
  ref.pid = static_cast<int>(::getpid());
  long interval_ms = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    if (arg == "--pid") {
      ref.pid = std::atoi(argv[++i]);
    } else if (arg == "--cgroups-path") {
      ref.cgroups_path = argv[++i];
      ref.pid = 0;
    } else if (arg == "--interval-ms") {
      interval_ms = std::atol(argv[++i]);
    } else {
      return Usage();
    }
  }
  if (interval_ms <= 0) return Usage();

  std::unique_ptr<HostCgroupOpener> opener = HostCgroupOpener::ForThisHost();
  (void)std::printf("mode: %s\n", CgroupModeName(opener->mode()));
  (void)std::printf("mounts:\n%s", opener->mounts().Describe().c_str());
  CgroupLocation location = opener->Locate(ref);
  (void)std::printf("location (pid %d, cgroupsPath \"%s\"):\n  v2: %s\n", ref.pid,
                    ref.cgroups_path.c_str(), location.v2_path.c_str());
  for (const auto& [controller, path] : location.v1_paths) {
    (void)std::printf("  %s: %s\n", controller.c_str(), path.c_str());
  }
  auto opened = opener->Open(ref);
  if (!opened.ok()) {
    (void)std::fprintf(stderr, "cannot open the cgroup: %s\n", opened.status().message().c_str());
    return 1;
  }
  std::unique_ptr<CgroupReader> reader = std::move(*opened);
  (void)std::printf("reading: %s\n", reader->Describe().c_str());
  ProcNodeReader node;
  NodeCapacity capacity = node.capacity();
  (void)std::printf("node: cpus=%d memory=%llu task_limit=%llu\n", capacity.cpus,
                    static_cast<unsigned long long>(capacity.memory_bytes),
                    static_cast<unsigned long long>(capacity.task_limit));

  auto first_at = std::chrono::steady_clock::now();
  Sample first = reader->Read();
  NodeSample first_node = node.Read();
  (void)std::printf("sample 1:\n");
  PrintSample(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  auto second_at = std::chrono::steady_clock::now();
  Sample second = reader->Read();
  NodeSample second_node = node.Read();
  (void)std::printf("sample 2 (after %ld ms):\n", interval_ms);
  PrintSample(second);

  double elapsed = std::chrono::duration<double>(second_at - first_at).count();
  ContainerRatios ratios = ComputeContainerRatios(&first, second, elapsed, capacity);
  (void)std::printf("ratios:\n");
  PrintRatio("cpu", ratios.cpu);
  PrintRatio("memory", ratios.memory);
  PrintRatio("pids", ratios.pids);
  std::optional<double> node_cpu;
  if (first_node.cpu_ok && second_node.cpu_ok)
    node_cpu = NodeCpuRatio(first_node.cpu, second_node.cpu);
  PrintRatio("node_cpu", node_cpu);
  PrintRatio("node_memory",
             second_node.memory_ok ? NodeMemoryRatio(second_node.memory) : std::nullopt);
  return second.gone ? 1 : 0;
}
