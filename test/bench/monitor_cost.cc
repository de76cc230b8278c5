#include "test/bench/monitor_cost.h"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace crigate::bench {
namespace {

namespace v1 = ::runtime::v1;
using Clock = std::chrono::steady_clock;

int OpenDescriptors(pid_t pid) {
  DIR* dir = opendir(fmt::format("/proc/{}/fd", pid).c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

double LoadAverage1() {
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

// Host-network pods of sleeping busybox containers, filled up to
// containers_per_pod each.
class Fleet {
 public:
  Fleet(test::CriClient& cri, const MonitorPlan& plan, const ScenarioContext& context)
      : cri_(cri), plan_(plan), context_(context) {}
  ~Fleet() { Clear(); }

  int size() const {
    int n = 0;
    for (const auto& pod : pods_) n += static_cast<int>(pod.containers.size());
    return n;
  }

  grpc::Status Resize(int target) {
    while (size() > target) {
      Pod& pod = pods_.back();
      StopAndRemove(pod.containers.back());
      pod.containers.pop_back();
      if (pod.containers.empty()) RemovePod();
    }
    while (size() < target) {
      if (pods_.empty() ||
          static_cast<int>(pods_.back().containers.size()) >= plan_.containers_per_pod) {
        Pod pod;
        pod.name = fmt::format("bench-monitor-{}-{}", getpid(), next_pod_++);
        pod.config = test::HostNetworkPod(pod.name, context_.log_dir);
        grpc::Status s = cri_.RunPodSandbox(pod.config, &pod.id);
        if (!s.ok()) return s;
        pods_.push_back(std::move(pod));
      }
      Pod& pod = pods_.back();
      std::string name = fmt::format("c{}", pod.next_container++);
      v1::ContainerConfig c = test::Container(name, context_.image, {"sleep", "3600"});
      c.set_log_path(pod.name + "-" + name + ".log");
      std::string id;
      grpc::Status s = cri_.CreateContainer(pod.id, c, pod.config, &id);
      if (s.ok()) s = cri_.StartContainer(id);
      if (!s.ok()) {
        if (!id.empty()) cri_.RemoveContainer(id);
        return s;
      }
      pod.containers.push_back(id);
    }
    return grpc::Status::OK;
  }

  void Clear() {
    while (!pods_.empty()) {
      for (const auto& id : pods_.back().containers) StopAndRemove(id);
      RemovePod();
    }
  }

 private:
  struct Pod {
    std::string name;
    std::string id;
    v1::PodSandboxConfig config;
    std::vector<std::string> containers;
    int next_container = 0;
  };

  void StopAndRemove(const std::string& id) {
    cri_.StopContainer(id, 0);
    cri_.RemoveContainer(id);
  }
  void RemovePod() {
    cri_.StopPodSandbox(pods_.back().id);
    cri_.RemovePodSandbox(pods_.back().id);
    pods_.pop_back();
  }

  test::CriClient& cri_;
  const MonitorPlan& plan_;
  const ScenarioContext& context_;
  std::vector<Pod> pods_;
  int next_pod_ = 0;
};

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // comm may hold spaces and ')': the fields after it start past the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  // Fields 3..13 precede utime (14) and stime (15).
  std::string skip;
  for (int i = 3; i <= 13; ++i) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<MonitorPoint> MeasureMonitorCost(
    test::CriClient& gate, pid_t pid, const MonitorPlan& plan, const ScenarioContext& context,
    const std::function<void(const std::string&)>& progress, std::string* error) {
  std::vector<MonitorPoint> points;
  Fleet fleet(gate, plan, context);
  for (int count : plan.counts) {
    grpc::Status s = fleet.Resize(count);
    if (!s.ok()) {
      *error = fmt::format("starting container {} of {} through crigate: {}: {}", fleet.size() + 1,
                           count, test::StatusCodeName(s.error_code()), s.error_message());
      return {};
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(plan.settle_s));
    double cpu0 = ProcessCpuSeconds(pid);
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(plan.window_s));
    double cpu1 = ProcessCpuSeconds(pid);
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (cpu0 < 0 || cpu1 < 0) {
      *error = fmt::format("cannot read /proc/{}/stat: is --gate-pid crigate's pid?", pid);
      return {};
    }
    MonitorPoint point;
    point.containers = count;
    point.window_s = wall;
    point.cpu_ms_per_s = (cpu1 - cpu0) * 1000 / wall;
    point.core_percent = point.cpu_ms_per_s / 10;
    point.load1 = LoadAverage1();
    point.open_fds = OpenDescriptors(pid);
    points.push_back(point);
    if (progress) {
      progress(
          fmt::format("{} containers: {:.2f} ms CPU/s ({:.2f}% of a core) over {:.1f} s, {} fds",
                      count, point.cpu_ms_per_s, point.core_percent, wall, point.open_fds));
    }
  }
  return points;
}

}  // namespace crigate::bench
