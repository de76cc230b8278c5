#include "test/bench/scenarios.h"

#include <fmt/format.h>

#include "test/bench/requests.h"

namespace crigate::bench {
namespace {

namespace v1 = ::runtime::v1;

// Absent on purpose: containerd answers RemoveImage of an unknown image with
// OK after one metadata lookup, so the call costs little and the same every
// time, and the gate's share of it stands out.
constexpr char kAbsentImage[] = "docker.io/library/crigate-bench-absent:0";

TargetCheck::Verdict Verdict(bool met) {
  return met ? TargetCheck::Verdict::kMet : TargetCheck::Verdict::kMissed;
}

// Latency ratio at every caller count; throughput ratio from tput_from_callers.
std::vector<TargetCheck> RatioTargets(const RowMeasure& m, double max_p50_ratio,
                                      double min_tput_ratio, int tput_from_callers) {
  std::vector<TargetCheck> checks;
  // Met or missed only when the whole interval of the p50 ratio says so.
  TargetCheck::Verdict p50 = TargetCheck::Verdict::kUnclear;
  if (m.p50_ratio_high <= max_p50_ratio) p50 = TargetCheck::Verdict::kMet;
  if (m.p50_ratio_low > max_p50_ratio) p50 = TargetCheck::Verdict::kMissed;
  checks.push_back({fmt::format("p50 ≤ {:.2f}×", max_p50_ratio), p50});
  if (min_tput_ratio > 0 && m.callers >= tput_from_callers) {
    double tput = m.measured.throughput / m.baseline.throughput;
    checks.push_back(
        {fmt::format("rate ≥ {:.2f}×", min_tput_ratio), Verdict(tput >= min_tput_ratio)});
  }
  return checks;
}

TargetFn PassthroughTarget() {
  return [](const std::string&, const RowMeasure& m) { return RatioTargets(m, 1.5, 0.7, 8); };
}

// What the row of `role` adds at p50 over direct containerd, for one caller:
// the "added" latency is that of an unloaded call.
TargetFn AddedTarget(const std::string& role, double max_added_us) {
  return [role, max_added_us](const std::string& row,
                              const RowMeasure& m) -> std::vector<TargetCheck> {
    if (row != role || m.callers != 1) return {};
    double added = m.measured.p50_us - m.baseline.p50_us;
    return {{fmt::format("adds ≤ {:.0f} µs at p50", max_added_us), Verdict(added <= max_added_us)}};
  };
}

// What the row of `role` adds at p50 over the scenario's reference row.
TargetFn AddedOverReferenceTarget(const std::string& role, double max_added_us,
                                  const std::string& reference) {
  return [=](const std::string& row, const RowMeasure& m) -> std::vector<TargetCheck> {
    if (row != role || !m.reference || m.callers != 1) return {};
    double added = m.measured.p50_us - m.reference->p50_us;
    return {{fmt::format("adds ≤ {:.0f} µs at p50 over {}", max_added_us, RoleLabel(reference)),
             Verdict(added <= max_added_us)}};
  };
}

grpc::Status PodLifecycle(test::CriClient& cri, const CallTag& tag, const ScenarioContext& ctx) {
  std::string name =
      fmt::format("bench-{}-r{}-c{}-{}", tag.role, tag.round + 1, tag.caller, tag.seq);
  v1::PodSandboxConfig pod = test::HostNetworkPod(name, ctx.log_dir);
  std::string pod_id, id;
  grpc::Status status = cri.RunPodSandbox(pod, &pod_id);
  if (!status.ok()) return status;
  v1::ContainerConfig container = test::Container("sleeper", ctx.image, {"sleep", "3600"});
  container.set_log_path(name + ".log");  // one file per pod in the shared log dir
  status = cri.CreateContainer(pod_id, container, pod, &id);
  if (status.ok()) status = cri.StartContainer(id);
  if (status.ok()) status = cri.StopContainer(id, 0);
  if (!id.empty()) {
    grpc::Status removed = cri.RemoveContainer(id);
    if (status.ok()) status = removed;
  }
  grpc::Status stopped = cri.StopPodSandbox(pod_id);
  grpc::Status removed = cri.RemovePodSandbox(pod_id);
  if (status.ok()) status = stopped;
  if (status.ok()) status = removed;
  return status;
}

// Parsed once; the typed stub re-encodes it per call, unknown fields included.
std::shared_ptr<const v1::CreateContainerRequest> KubeletCreateInMissingSandbox(
    const ScenarioContext& ctx) {
  PodShape shape;
  shape.image = ctx.image;
  shape.sandbox_id = "crigate-bench-no-such-sandbox";
  auto request = std::make_shared<v1::CreateContainerRequest>();
  request->ParseFromString(KubeletCreateContainerRequest(shape));
  return request;
}

}  // namespace

std::string RoleLabel(const std::string& role) {
  if (role == "direct") return "containerd";
  if (role == "gate") return "crigate";
  if (role == "gate-ungated") return "crigate, nothing gated";
  if (role == "gate-cloud") return "crigate + cloud stage";
  return role;
}

std::vector<Scenario> Scenarios(const ScenarioContext& context) {
  std::vector<Scenario> all;

  Scenario version;
  version.name = "version";
  version.title = "Version";
  version.op = [](test::CriClient& cri, const CallTag&) {
    v1::VersionResponse out;
    return cri.Version(&out);
  };
  version.target = PassthroughTarget();
  all.push_back(version);

  Scenario list;
  list.name = "list";
  list.title = "ListContainers";
  list.op = [](test::CriClient& cri, const CallTag&) {
    v1::ListContainersResponse out;
    return cri.ListContainers(&out);
  };
  list.target = PassthroughTarget();
  all.push_back(list);

  Scenario image_status;
  image_status.name = "imagestatus";
  image_status.title = "ImageStatus";
  image_status.op = [image = context.image](test::CriClient& cri, const CallTag&) {
    v1::ImageStatusResponse out;
    return cri.ImageStatus(image, &out);
  };
  image_status.target = PassthroughTarget();
  all.push_back(image_status);

  // Gated, local stages only. Today the pipeline is AllowAll: the row shows
  // the gate's fixed cost (inspection, the decision thread hop, the log
  // line). With policy configured in the bench config (scripts/bench.sh,
  // CRIGATE_BENCH_POLICY_TOML) the same rows measure the local stages.
  Scenario gated;
  gated.name = "gated";
  gated.title = "RemoveImage, absent image (gated)";
  gated.kind = ScenarioKind::kGated;
  gated.optional = {"gate-ungated"};
  gated.reference = "gate-ungated";
  gated.op = [](test::CriClient& cri, const CallTag&) { return cri.RemoveImage(kAbsentImage); };
  gated.target = AddedTarget("gate", 100);
  gated.note = "containerd answers OK after one metadata lookup: the gate's share stands out";
  all.push_back(gated);

  Scenario create = gated;
  create.name = "gated-create";
  create.title = "CreateContainer, kubelet-shaped, missing sandbox (gated)";
  create.expected = {grpc::StatusCode::NOT_FOUND};
  create.op = [request = KubeletCreateInMissingSandbox(context)](test::CriClient& cri,
                                                                 const CallTag&) {
    return cri.CreateContainer(*request, nullptr);
  };
  create.note = "a 3 KB request the gate parses in full; containerd fails fast on the sandbox id";
  all.push_back(create);

  // The cloud stage on loopback: the same request every time (its allow is
  // cached after the first), and a new image per call (every call asks the
  // cloud). Measured when scripts/bench.sh starts a crigate with [cloud].
  Scenario cloud_hit;
  cloud_hit.name = "gated-cloud-hit";
  cloud_hit.title = "RemoveImage, cloud stage, cache hit";
  cloud_hit.kind = ScenarioKind::kGated;
  cloud_hit.required = {"direct", "gate", "gate-cloud"};
  cloud_hit.reference = "gate";
  cloud_hit.op = gated.op;
  cloud_hit.target = AddedOverReferenceTarget("gate-cloud", 20, "gate");
  all.push_back(cloud_hit);

  Scenario cloud_miss = cloud_hit;
  cloud_miss.name = "gated-cloud-miss";
  cloud_miss.title = "RemoveImage, cloud stage, cache miss";
  cloud_miss.op = [](test::CriClient& cri, const CallTag& tag) {
    return cri.RemoveImage(fmt::format("docker.io/library/crigate-bench-miss-{}-r{}-c{}-{}:0",
                                       tag.role, tag.round + 1, tag.caller, tag.seq));
  };
  cloud_miss.target = nullptr;  // reported, no target
  all.push_back(cloud_miss);

  Scenario lifecycle;
  lifecycle.name = "lifecycle";
  lifecycle.title = "Pod lifecycle, sequential";
  lifecycle.kind = ScenarioKind::kLifecycle;
  lifecycle.callers = {1};
  lifecycle.counts_pods = true;
  lifecycle.op = [context](test::CriClient& cri, const CallTag& tag) {
    return PodLifecycle(cri, tag, context);
  };
  lifecycle.target = [](const std::string&, const RowMeasure& m) {
    return RatioTargets(m, 1.05, 0, 0);
  };
  lifecycle.note =
      "host-network pod, busybox `sleep 3600`: run sandbox, create, start, stop (timeout 0), "
      "remove container, stop and remove pod; one sample per pod";
  all.push_back(lifecycle);

  Scenario lifecycle4 = lifecycle;
  lifecycle4.name = "lifecycle4";
  lifecycle4.title = "Pod lifecycle, 4 in parallel";
  lifecycle4.callers = {4};
  all.push_back(lifecycle4);

  Scenario monitor;
  monitor.name = "monitor";
  monitor.title = "Monitor cost";
  monitor.kind = ScenarioKind::kMonitor;
  monitor.required = {"gate"};
  all.push_back(monitor);

  return all;
}

}  // namespace crigate::bench
