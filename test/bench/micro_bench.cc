// crigate-microbench: the gate's hot paths in isolation (Google Benchmark).
//
//   crigate-microbench [--benchmark_filter=REGEX] [--benchmark_repetitions=N]
//
// What each call through crigate pays before it reaches containerd: method
// classification on every call, and on gated calls the subset-proto
// inspection of the request bytes. The policy stages' hot paths (image
// reference normalisation, token verification, trust rule matching) and the
// monitor's cgroup parsing are added when their libraries are in the build
// (CRIGATE_BENCH_HAVE_POLICY / CRIGATE_BENCH_HAVE_CGROUP, set by CMake).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>

#include "cri/call_metrics.h"
#include "cri/inspect.h"
#include "cri/method_table.h"
#include "cri_subset.pb.h"
#include "policy/actions.h"
#include "policy/policy_config.h"
#include "policy/token_use_store.h"
#include "policy/workload_profile.h"
#include "test/bench/requests.h"

#ifdef CRIGATE_BENCH_HAVE_CGROUP
#include "monitor/cgroup_files.h"
#endif

namespace crigate::bench {
namespace {

namespace v1 = ::runtime::v1;

void BM_InspectCreateContainer(benchmark::State& state) {
  const std::string bytes = KubeletCreateContainerRequest();
  const std::string& buffer = bytes;
  {
    // A request the subset misreads would make the numbers meaningless.
    policy::GateRequest request;
    if (!cri::InspectRequest("CreateContainer", buffer, &request).ok() ||
        request.image != PodShape().image || !request.container || !request.pod ||
        request.container->resources.cpu_quota != 50000 || request.pod->labels.size() != 5) {
      state.SkipWithError("the kubelet-shaped request does not inspect as built");
      return;
    }
  }
  for (auto _ : state) {
    policy::GateRequest request;
    base::Status status = cri::InspectRequest("CreateContainer", buffer, &request);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
  state.SetLabel(std::to_string(bytes.size()) + " B");
}
BENCHMARK(BM_InspectCreateContainer);

void BM_InspectRunPodSandbox(benchmark::State& state) {
  const std::string bytes = KubeletRunPodSandboxRequest();
  const std::string& buffer = bytes;
  for (auto _ : state) {
    policy::GateRequest request;
    base::Status status = cri::InspectRequest("RunPodSandbox", buffer, &request);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
  state.SetLabel(std::to_string(bytes.size()) + " B");
}
BENCHMARK(BM_InspectRunPodSandbox);

// The parse alone, without copying fields into the GateRequest.
void BM_ParseMessageRunPodSandbox(benchmark::State& state) {
  const std::string bytes = KubeletRunPodSandboxRequest();
  const std::string& buffer = bytes;
  for (auto _ : state) {
    v1::RunPodSandboxRequest message;
    bool ok = cri::ParseMessage(buffer, &message);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_ParseMessageRunPodSandbox);

void BM_InspectRemoveImage(benchmark::State& state) {
  v1::RemoveImageRequest message;
  message.mutable_image()->set_image("docker.io/library/busybox:1.35");
  const std::string buffer = message.SerializeAsString();
  for (auto _ : state) {
    policy::GateRequest request;
    base::Status status = cri::InspectRequest("RemoveImage", buffer, &request);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_InspectRemoveImage);

// What every call pays in the proxy's constructor: match the path exactly,
// then look its class up in the method table.
void BM_ClassifyMethod(benchmark::State& state) {
  const std::string path = "/runtime.v1.RuntimeService/ListContainers";
  policy::PolicyConfig config;
  config.gate.methods = policy::DefaultGatedActions();
  for (auto _ : state) {
    cri::MethodPath parsed = cri::ParseMethodPath(path);
    policy::MethodClass c = config.ClassOf(parsed.service, parsed.method);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_ClassifyMethod);

// What the relay adds to every relayed call for the metrics: the method's
// slot (a binary search), the call counter and the passthrough histogram.
void BM_CallMetricsRecord(benchmark::State& state) {
  cri::CallMetrics& metrics = cri::CallMetrics::Instance();
  for (auto _ : state) {
    metrics.Record("ListContainers", cri::CallMetrics::Class::kReadOnly, base::Code::OK, true,
                   std::chrono::microseconds(180));
  }
}
BENCHMARK(BM_CallMetricsRecord);

// The workload profile on a kubelet-like CreateContainer: the restricted
// level, five volume mounts below the pod's directory (each resolved on the
// real file system, as the gate does), capabilities, seccomp and the
// default /proc lists. What the profile adds to the trust stage's CPU.
void BM_WorkloadProfileCreateContainer(benchmark::State& state) {
  const std::string pod_dir = "/tmp/crigate-bench-pod";
  policy::ContainerInfo c;
  c.name = "web";
  auto& s = c.security;
  s.drop_capabilities = {"ALL"};
  s.add_capabilities = {"NET_BIND_SERVICE"};
  s.run_as_user = 1000;
  s.no_new_privs = true;
  s.seccomp = {{policy::Confinement::Kind::kRuntimeDefault, "", "seccomp"}};
  s.masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug",   "/proc/scsi",
                    "/sys/firmware"};
  s.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (const char* v :
       {"volumes/kubernetes.io~empty-dir/cache", "volumes/kubernetes.io~configmap/cfg",
        "volumes/kubernetes.io~projected/kube-api-access", "etc-hosts",
        "containers/web/0a1b2c3d"}) {
    s.mounts.push_back({"/mnt", pod_dir + "/" + v, false});
  }
  policy::PodInfo pod;
  pod.name = "shop";
  pod.uid = "uid";
  policy::WorkloadProfile profile;
  profile.level = policy::PssLevel::kRestricted;
  policy::WorkloadContext context;
  context.pod_dir = pod_dir;
  for (auto _ : state) {
    auto violation = policy::CheckContainerSecurity(profile, c, pod, context);
    benchmark::DoNotOptimize(violation);
  }
}
BENCHMARK(BM_WorkloadProfileCreateContainer);

// What a gated call that carries a token pays for its use to survive kill -9:
// reserve, then commit (append + fdatasync) in a file on the disk that
// /var/lib is on here. Real time: the cost is the disk's, not the CPU's.
void BM_TokenUseReserveAndCommit(benchmark::State& state) {
  char dir[] = "/var/tmp/crigate-bench-uses-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::string path = std::string(dir) + "/uses";
  const auto now = std::chrono::system_clock::now();
  auto store = policy::TokenUseStore::Open(path, 10'000'000, now);
  if (!store.ok()) {
    state.SkipWithError(store.error().c_str());
    return;
  }
  int64_t n = 0;
  for (auto _ : state) {
    const std::string key = "jti-" + std::to_string(++n) + "\nCreateContainer\ncontainer:x/app/0";
    (*store)->Reserve(key, now + std::chrono::hours(1), now);
    base::Status committed = (*store)->Commit(key);
    if (!committed.ok()) state.SkipWithError(committed.message().c_str());
  }
  store = base::Status(base::Code::CANCELLED, "closed");  // closes the file
  unlink(path.c_str());
  rmdir(dir);
}
BENCHMARK(BM_TokenUseReserveAndCommit)->UseRealTime();

#ifdef CRIGATE_BENCH_HAVE_CGROUP
// One container's sample as the kernel prints it: the parse work of one
// monitor sample, without the preads (monitor_sampling_bench measures those).
void BM_ParseCgroupV1Sample(benchmark::State& state) {
  for (auto _ : state) {
    auto usage = monitor::ParseCounter("123456789012\n");
    auto quota = monitor::ParseSigned("50000\n");
    auto period = monitor::ParseCounter("100000\n");
    auto cpus = monitor::ParseCpuListCount("0-1\n");
    auto memory = monitor::ParseCounter("7340032\n");
    auto limit = monitor::ParseV1MemoryLimit("268435456\n");
    auto pids = monitor::ParseCounter("3\n");
    auto pids_max = monitor::ParseLimit("max\n");
    benchmark::DoNotOptimize(usage);
    benchmark::DoNotOptimize(quota);
    benchmark::DoNotOptimize(period);
    benchmark::DoNotOptimize(cpus);
    benchmark::DoNotOptimize(memory);
    benchmark::DoNotOptimize(limit);
    benchmark::DoNotOptimize(pids);
    benchmark::DoNotOptimize(pids_max);
  }
}
BENCHMARK(BM_ParseCgroupV1Sample);

void BM_ParseCgroupV2Sample(benchmark::State& state) {
  const std::string cpu_stat =
      "usage_usec 123456789\nuser_usec 100000000\nsystem_usec 23456789\nnr_periods 1200\n"
      "nr_throttled 12\nthrottled_usec 34567\nnr_bursts 0\nburst_usec 0\n";
  const std::string pressure =
      "some avg10=0.12 avg60=0.05 avg300=0.01 total=12345\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
  for (auto _ : state) {
    auto usage = monitor::ParseCpuStatUsageUsec(cpu_stat);
    auto cores = monitor::ParseV2CpuMaxCores("50000 100000\n");
    auto cpus = monitor::ParseCpuListCount("0-1\n");
    auto memory = monitor::ParseCounter("7340032\n");
    auto limit = monitor::ParseLimit("268435456\n");
    auto pids = monitor::ParseCounter("3\n");
    auto pids_max = monitor::ParseLimit("max\n");
    auto cpu_pressure = monitor::ParsePressure(pressure);
    auto memory_pressure = monitor::ParsePressure(pressure);
    benchmark::DoNotOptimize(usage);
    benchmark::DoNotOptimize(cores);
    benchmark::DoNotOptimize(cpus);
    benchmark::DoNotOptimize(memory);
    benchmark::DoNotOptimize(limit);
    benchmark::DoNotOptimize(pids);
    benchmark::DoNotOptimize(pids_max);
    benchmark::DoNotOptimize(cpu_pressure);
    benchmark::DoNotOptimize(memory_pressure);
  }
}
BENCHMARK(BM_ParseCgroupV2Sample);
#endif  // CRIGATE_BENCH_HAVE_CGROUP

#ifdef CRIGATE_BENCH_HAVE_POLICY
// Slots for the policy stages' hot paths, to be written against their headers
// when policy/ lands (each a BENCHMARK like the ones above):
//   BM_NormaliseImageRef   "busybox" -> "docker.io/library/busybox:latest", and a
//                          digest-pinned reference with a registry port
//   BM_VerifyToken         one Ed25519 and one ECDSA P-256 JWS of realistic claims
//                          (signature check + claim parse + jti replay lookup)
//   BM_TrustMatch          a CreateContainer GateRequest against a store of ~50
//                          rules (registry/repository globs, pinned digests)
#endif  // CRIGATE_BENCH_HAVE_POLICY

}  // namespace
}  // namespace crigate::bench

BENCHMARK_MAIN();
