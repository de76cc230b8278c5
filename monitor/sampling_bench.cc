// The monitor's own cost: one sample of N containers' cgroups on this host,
// with descriptors kept open (what the watchdog does), against open+read+close
// per file and libcgroup's value API (what it avoids).
//
// As root on a v1/hybrid host it creates N real cgroups under the cpuacct,
// cpu, cpuset, memory and pids hierarchies and removes them afterwards;
// otherwise it opens its own process's cgroup N times.
//
//   monitor_sampling_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "host_cgroup_opener.h"
#include "node_reader.h"
#include "watchdog.h"

namespace crigate::monitor {
namespace {

constexpr const char* kControllers[] = {"cpuacct", "cpu", "cpuset", "memory", "pids"};

// N cgroups for the benchmark's lifetime.
class BenchCgroups {
 public:
  explicit BenchCgroups(int count) : opener_(HostCgroupOpener::ForThisHost()) {
    for (int i = 0; i < count; ++i) {
      std::string name = "/crigate-bench-" + std::to_string(::getpid()) + "-" + std::to_string(i);
      bool made = opener_->mode() != CgroupMode::kUnified;
      for (const char* controller : kControllers) {
        const CgroupMount* mount = opener_->mounts().V1(controller);
        if (!made || mount == nullptr) continue;
        std::string directory = CgroupMounts::Directory(*mount, name);
        if (::mkdir(directory.c_str(), 0755) != 0) {
          made = false;
          break;
        }
        directories_.push_back(directory);
      }
      refs_.push_back(made ? CgroupRef{0, name} : CgroupRef{static_cast<int>(::getpid()), ""});
    }
  }
  ~BenchCgroups() {
    for (auto it = directories_.rbegin(); it != directories_.rend(); ++it) ::rmdir(it->c_str());
  }
  HostCgroupOpener& opener() { return *opener_; }
  const std::vector<CgroupRef>& refs() const { return refs_; }

  // The files a v1 sample reads, for the open-per-read comparisons.
  std::vector<std::string> Files(const CgroupRef& ref) const {
    CgroupLocation location = opener_->Locate(ref);
    std::vector<std::string> files;
    auto add = [&](const char* controller, const char* file) {
      const CgroupMount* mount = opener_->mounts().V1(controller);
      auto path = location.v1_paths.find(controller);
      if (mount && path != location.v1_paths.end()) {
        files.push_back(CgroupMounts::Directory(*mount, path->second) + "/" + file);
      }
    };
    add("cpuacct", "cpuacct.usage");
    add("cpu", "cpu.cfs_quota_us");
    add("cpu", "cpu.cfs_period_us");
    add("cpuset", "cpuset.cpus");
    add("memory", "memory.usage_in_bytes");
    add("memory", "memory.limit_in_bytes");
    add("pids", "pids.current");
    add("pids", "pids.max");
    return files;
  }

 private:
  std::unique_ptr<HostCgroupOpener> opener_;
  std::vector<std::string> directories_;
  std::vector<CgroupRef> refs_;
};

// What the watchdog does per tick: one pread per kept-open file.
void BM_SampleKeptOpen(benchmark::State& state) {
  BenchCgroups cgroups(static_cast<int>(state.range(0)));
  std::vector<std::unique_ptr<CgroupReader>> readers;
  for (const CgroupRef& ref : cgroups.refs()) {
    auto reader = cgroups.opener().Open(ref);
    if (!reader.ok()) {
      state.SkipWithError(reader.status().message().c_str());
      return;
    }
    readers.push_back(std::move(*reader));
  }
  uint64_t sum = 0;
  for (auto _ : state) {
    for (auto& reader : readers) sum += reader->Read().memory_current;
  }
  benchmark::DoNotOptimize(sum);
  state.counters["per_container"] = benchmark::Counter(
      static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SampleKeptOpen)->Arg(1)->Arg(50)->Unit(benchmark::kMicrosecond);

// The alternative: open, read, close every file on every sample.
void BM_SampleOpenReadClose(benchmark::State& state) {
  BenchCgroups cgroups(static_cast<int>(state.range(0)));
  std::vector<std::string> files;
  for (const CgroupRef& ref : cgroups.refs()) {
    for (std::string& file : cgroups.Files(ref)) files.push_back(std::move(file));
  }
  char buffer[256];
  for (auto _ : state) {
    for (const std::string& file : files) {
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      benchmark::DoNotOptimize(::read(fd, buffer, sizeof buffer));
      ::close(fd);
    }
  }
  state.counters["per_container"] = benchmark::Counter(
      static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SampleOpenReadClose)->Arg(50)->Unit(benchmark::kMicrosecond);

// libcgroup 2.0.2's value API for the same values.
void BM_SampleLibcgroup(benchmark::State& state) {
  BenchCgroups cgroups(static_cast<int>(state.range(0)));
  if (cgroup_init() != 0) {
    state.SkipWithError("cgroup_init failed");
    return;
  }
  struct Item {
    std::string controller, path, file;
  };
  std::vector<Item> items;
  for (const CgroupRef& ref : cgroups.refs()) {
    CgroupLocation location = cgroups.opener().Locate(ref);
    for (const char* controller : kControllers) {
      auto path = location.v1_paths.find(controller);
      if (path == location.v1_paths.end()) continue;
      for (const std::string& file : cgroups.Files(ref)) {
        if (file.find(std::string("/") + controller + ".") == std::string::npos) continue;
        items.push_back({controller, path->second, file.substr(file.rfind('/') + 1)});
      }
    }
  }
  char buffer[256];
  for (auto _ : state) {
    for (Item& item : items) {
      void* handle = nullptr;
      // libcgroup 2.0.2 takes the file name as char*.
      cgroup_read_value_begin(item.controller.c_str(), item.path.c_str(), item.file.data(), &handle,
                              buffer, sizeof buffer);
      if (handle != nullptr) cgroup_read_value_end(&handle);
    }
  }
  state.counters["per_container"] = benchmark::Counter(
      static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SampleLibcgroup)->Arg(50)->Unit(benchmark::kMicrosecond);

// The node-wide part of a tick: /proc/stat and /proc/meminfo.
void BM_NodeSample(benchmark::State& state) {
  ProcNodeReader node;
  for (auto _ : state) benchmark::DoNotOptimize(node.Read());
}
BENCHMARK(BM_NodeSample)->Unit(benchmark::kMicrosecond);

// A runtime that knows the bench cgroups and never stops anything.
class BenchRuntime final : public ContainerRuntime {
 public:
  explicit BenchRuntime(const std::vector<CgroupRef>& refs) : refs_(refs) {}
  grpc::Status ListRunning(std::vector<std::string>* ids) override {
    for (size_t i = 0; i < refs_.size(); ++i) ids->push_back("c" + std::to_string(i));
    return grpc::Status::OK;
  }
  grpc::Status Status(const std::string& id, ContainerFacts* facts) override {
    const CgroupRef& ref = refs_.at(std::stoul(id.substr(1)));
    facts->id = id;
    facts->state = ContainerRunState::kRunning;
    facts->pid = ref.pid;
    facts->cgroups_path = ref.cgroups_path;
    return grpc::Status::OK;
  }
  grpc::Status Stop(const std::string&, int64_t) override { return grpc::Status::OK; }

 private:
  std::vector<CgroupRef> refs_;
};

class NoReports final : public ActionReporter {
 public:
  void Report(const StopAction&) override {}
};

// A whole watchdog tick over N real cgroups: node sample, container samples,
// ratios, breach counters, decision. What the daemon pays every interval.
void BM_WatchdogTick(benchmark::State& state) {
  BenchCgroups cgroups(static_cast<int>(state.range(0)));
  MonitorConfig config;
  config.resync_interval = std::chrono::milliseconds(0);
  Watchdog::Dependencies dependencies;
  dependencies.runtime = std::make_shared<BenchRuntime>(cgroups.refs());
  dependencies.cgroups = HostCgroupOpener::ForThisHost();
  dependencies.node = std::make_unique<ProcNodeReader>();
  dependencies.reporter = std::make_shared<NoReports>();
  Watchdog watchdog(config, std::move(dependencies));
  watchdog.Resync();
  watchdog.WaitIdle();
  watchdog.Tick();
  if (watchdog.stats().watched != cgroups.refs().size()) {
    state.SkipWithError("not every cgroup is watched");
    return;
  }
  for (auto _ : state) watchdog.Tick();
  state.counters["per_container"] = benchmark::Counter(
      static_cast<double>(state.range(0)),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WatchdogTick)->Arg(50)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace crigate::monitor

BENCHMARK_MAIN();
