// No bypass, end to end: a real containerd whose CRI default (and only)
// runtime is crigate's shim (scripts/shim-up.sh, which scripts/test.sh runs),
// behind a real crigate with [approval] enabled. What crigate allows runs;
// what goes straight to containerd's socket never starts a task.
//
// Environment (scripts/test.sh sets it from shim-up.sh's output):
//   CRIGATE_SHIM_RUN_DIR          its run dir (default ${CRIGATE_RUN_DIR}-shim)
//   CRIGATE_SHIM_CONTAINERD_SOCK  its socket (default <run dir>/containerd.sock)
//   CRIGATE_SHIM_KEY_FILE         its approval key (default <run dir>/approval.key)
//   CRIGATE_SCRIPTS_DIR           where shim-up.sh is, for the restart test
// Without that containerd every test fails: none is skipped.
//
// The latency comparison is opt-in (it takes minutes):
//   shim_e2e_test --gtest_also_run_disabled_tests --gtest_filter='*Latency*'
// with CRIGATE_SHIM_BENCH_N rounds (default 20) against the main containerd
// (scripts/containerd-up.sh) as the baseline.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "shim/approval.h"
#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using shim::kApprovalAnnotation;
using std::chrono::seconds;
using std::chrono::system_clock;

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ShimRunDir() {
  return Env("CRIGATE_SHIM_RUN_DIR", Env("CRIGATE_RUN_DIR", "/tmp/crigate-run") + "-shim");
}
std::string ShimSocket() {
  return Env("CRIGATE_SHIM_CONTAINERD_SOCK", ShimRunDir() + "/containerd.sock");
}
std::string ShimKeyFile() { return Env("CRIGATE_SHIM_KEY_FILE", ShimRunDir() + "/approval.key"); }
std::string ScriptsDir() {
  // __FILE__ is <repo>/test/e2e/shim_e2e_test.cc.
  std::string here = __FILE__;
  return Env("CRIGATE_SCRIPTS_DIR", here.substr(0, here.rfind("/test/e2e/")) + "/scripts");
}

// crigate in front of the shim instance, approving what it allows.
CrigateProcess::Options GateOptions(int ttl_seconds = 300) {
  CrigateProcess::Options options;
  options.backend_socket = ShimSocket();
  options.body = "[approval]\nenabled = true\nkey_file = \"" + ShimKeyFile() +
                 "\"\nttl_seconds = " + std::to_string(ttl_seconds) + "\n";
  return options;
}

void ExpectShimRefused(const grpc::Status& s, const std::string& reason) {
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("crigate refused the start: " + reason), std::string::npos)
      << s.error_message();
}

v1::ContainerConfig Sleeper(const std::string& name) {
  return Container(name, kBusybox, {"/bin/sleep", "3600"});
}

class NoBypass : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(stat(ShimSocket().c_str(), &st), 0)
        << "containerd with the crigate runtime is not running at " << ShimSocket()
        << ": start it with scripts/shim-up.sh (scripts/test.sh does)";
    const shim::ApprovalStatus s = shim::LoadApprovalKey(ShimKeyFile(), &key_);
    ASSERT_TRUE(s.ok()) << s.reason();
    direct_ = std::make_unique<CriClient>(ShimSocket());
    StartGate(GateOptions());
  }

  void TearDown() override {
    if (!direct_) return;
    // Straight to containerd: stopping and removing are never refused.
    for (const auto& id : pods_) {
      (void)direct_->StopPodSandbox(id);
      (void)direct_->RemovePodSandbox(id);
    }
  }

  void StartGate(const CrigateProcess::Options& options) {
    through_.reset();
    gate_ = std::make_unique<CrigateProcess>(options);
    ASSERT_TRUE(gate_->WaitReady()) << gate_->Log();
    through_ = std::make_unique<CriClient>(gate_->socket());
  }

  v1::PodSandboxConfig Pod(const std::string& name) { return HostNetworkPod(name, gate_->dir()); }

  grpc::Status RunPod(CriClient& cri, const v1::PodSandboxConfig& pod, std::string* id) {
    grpc::Status s = cri.RunPodSandbox(pod, id);
    if (s.ok()) pods_.push_back(*id);
    return s;
  }

  // A pod through the gate; fails the test if it does not run.
  std::string GatedPod(const v1::PodSandboxConfig& pod) {
    std::string id;
    grpc::Status s = RunPod(*through_, pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  static grpc::Status CreateAndStart(CriClient& cri, const std::string& pod_id,
                                     const v1::PodSandboxConfig& pod,
                                     const v1::ContainerConfig& config, std::string* id) {
    grpc::Status s = cri.CreateContainer(pod_id, config, pod, id);
    if (!s.ok()) return s;
    return cri.StartContainer(*id);
  }

  // What anyone who can list containers reads back: the annotations.
  std::string PodApproval(const std::string& pod_id) {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(pod_id);
    std::string raw;
    grpc::Status s = direct_->RawCall("/runtime.v1.RuntimeService/PodSandboxStatus",
                                      req.SerializeAsString(), &raw);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::PodSandboxStatusResponse resp;
    EXPECT_TRUE(resp.ParseFromString(raw));
    auto it = resp.status().annotations().find(kApprovalAnnotation);
    return it == resp.status().annotations().end() ? "" : it->second;
  }
  std::string ContainerApproval(const std::string& id) {
    v1::ContainerStatusResponse st;
    EXPECT_TRUE(direct_->ContainerStatus(id, &st).ok());
    auto it = st.status().annotations().find(kApprovalAnnotation);
    return it == st.status().annotations().end() ? "" : it->second;
  }

  v1::ContainerState State(const std::string& id) {
    v1::ContainerStatusResponse st;
    grpc::Status s = direct_->ContainerStatus(id, &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st.status().state();
  }

  std::string Mint(const shim::ApprovalFields& fields, system_clock::time_point now, seconds ttl,
                   const shim::ApprovalKey& key) {
    std::string token;
    const shim::ApprovalStatus s = shim::MintApproval(key, fields, ttl, &token, now);
    EXPECT_TRUE(s.ok()) << s.reason();
    return token;
  }
  static shim::ApprovalFields PodFields(const v1::PodSandboxConfig& pod) {
    return shim::SandboxApprovalFields(pod.metadata().namespace_(), pod.metadata().name(),
                                       pod.metadata().uid());
  }

  shim::ApprovalKey key_;
  std::unique_ptr<CrigateProcess> gate_;
  std::unique_ptr<CriClient> through_;
  std::unique_ptr<CriClient> direct_;
  std::vector<std::string> pods_;
};

TEST_F(NoBypass, PodAndContainerThroughCrigateRunAndStopAndRemove) {
  // Whatever approval a client sends is replaced by the gate's own.
  v1::PodSandboxConfig pod = Pod("gated");
  (*pod.mutable_annotations())[kApprovalAnnotation] = "v1.s.0.forged.forged";
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty()) << gate_->Log();
  EXPECT_NE(PodApproval(pod_id), "v1.s.0.forged.forged");

  v1::ContainerConfig app = Sleeper("app");
  (*app.mutable_annotations())[kApprovalAnnotation] = "v1.c.0.forged.forged";
  std::string id;
  // A prefix of the pod id, as crictl allows: the approval names the full id.
  grpc::Status s = CreateAndStart(*through_, pod_id.substr(0, 13), pod, app, &id);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << gate_->Log();
  EXPECT_EQ(State(id), v1::CONTAINER_RUNNING);
  EXPECT_NE(ContainerApproval(id), "v1.c.0.forged.forged");

  v1::ExecSyncResponse exec;
  s = through_->ExecSync(id, {"/bin/sh", "-c", "echo inside $((6 * 7))"}, &exec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exec.stdout(), "inside 42\n");

  // Stopping and removing gated tasks, through the gate and straight.
  std::string second;
  ASSERT_TRUE(CreateAndStart(*through_, pod_id, pod, Sleeper("second"), &second).ok());
  ASSERT_TRUE(through_->StopContainer(id, 0).ok());
  EXPECT_EQ(State(id), v1::CONTAINER_EXITED);
  ASSERT_TRUE(through_->RemoveContainer(id).ok());
  ASSERT_TRUE(direct_->StopContainer(second, 0).ok());
  ASSERT_TRUE(direct_->RemoveContainer(second).ok());
  ASSERT_TRUE(through_->StopPodSandbox(pod_id).ok());
  ASSERT_TRUE(through_->RemovePodSandbox(pod_id).ok());
  pods_.clear();
}

TEST_F(NoBypass, PodSentStraightToContainerdFailsAtSandboxStart) {
  const v1::PodSandboxConfig pod = Pod("straight");
  std::string id;
  ExpectShimRefused(RunPod(*direct_, pod, &id),
                    "no crigate.io/approval annotation: not started through crigate");
  // Nor with plain runc: that handler is not registered.
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = pod;
  req.set_runtime_handler("runc");
  grpc::Status s = direct_->RawCall("/runtime.v1.RuntimeService/RunPodSandbox",
                                    req.SerializeAsString(), nullptr);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("runc"), std::string::npos) << s.error_message();
  // The very same config through the gate runs.
  EXPECT_FALSE(GatedPod(pod).empty()) << gate_->Log();
}

TEST_F(NoBypass, ContainerCreatedStraightInAnApprovedPodFails) {
  const v1::PodSandboxConfig pod = Pod("approved-pod");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ExpectShimRefused(CreateAndStart(*direct_, pod_id, pod, Sleeper("sneaky"), &id),
                    "no crigate.io/approval annotation");
  EXPECT_NE(State(id), v1::CONTAINER_RUNNING);
  EXPECT_TRUE(direct_->RemoveContainer(id).ok());
  // With the pod's approval, read back from containerd, in the sandbox config:
  // it reaches the container's spec through pod_annotations.
  v1::PodSandboxConfig with_pod_approval = pod;
  (*with_pod_approval.mutable_annotations())[kApprovalAnnotation] = PodApproval(pod_id);
  ExpectShimRefused(CreateAndStart(*direct_, pod_id, with_pod_approval, Sleeper("sneaky2"), &id),
                    "approval was issued for a sandbox");
  // A gated container in the same pod still runs.
  std::string ok;
  grpc::Status s = CreateAndStart(*through_, pod_id, pod, Sleeper("app"), &ok);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(NoBypass, ApprovalCopiedFromOneContainerOntoAnotherFails) {
  const v1::PodSandboxConfig pod = Pod("copy");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string app;
  ASSERT_TRUE(through_->CreateContainer(pod_id, Sleeper("app"), pod, &app).ok());
  const std::string approval = ContainerApproval(app);
  ASSERT_FALSE(approval.empty());

  v1::ContainerConfig evil = Sleeper("evil");
  (*evil.mutable_annotations())[kApprovalAnnotation] = approval;
  std::string id;
  ExpectShimRefused(CreateAndStart(*direct_, pod_id, pod, evil, &id),
                    "approval signature does not match container default/copy/evil");

  // Same name, pod and image (the next attempt): every bound field matches,
  // but the approval started "app" already.
  ASSERT_TRUE(through_->StartContainer(app).ok());
  v1::ContainerConfig replay = Sleeper("app");
  replay.mutable_metadata()->set_attempt(1);
  replay.clear_command();
  replay.add_command("/bin/sh");
  (*replay.mutable_annotations())[kApprovalAnnotation] = approval;
  ExpectShimRefused(CreateAndStart(*direct_, pod_id, pod, replay, &id),
                    "approval was already used to start a task");
}

TEST_F(NoBypass, ExpiredApprovalFails) {
  // Through a gate whose approvals live one second: created in time, started late.
  StartGate(GateOptions(/*ttl_seconds=*/1));
  const v1::PodSandboxConfig pod = Pod("expired");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ASSERT_TRUE(through_->CreateContainer(pod_id, Sleeper("late"), pod, &id).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ExpectShimRefused(through_->StartContainer(id), "approval expired at ");

  // A correctly signed sandbox approval that expired ten minutes ago.
  v1::PodSandboxConfig old = Pod("expired-pod");
  (*old.mutable_annotations())[kApprovalAnnotation] =
      Mint(PodFields(old), system_clock::now() - seconds(660), seconds(60), key_);
  std::string old_id;
  ExpectShimRefused(RunPod(*direct_, old, &old_id), "approval expired at ");
}

TEST_F(NoBypass, BadSignatureFails) {
  const shim::ApprovalKey other(std::string(32, 'x'));
  v1::PodSandboxConfig pod = Pod("badsig");
  (*pod.mutable_annotations())[kApprovalAnnotation] =
      Mint(PodFields(pod), system_clock::now(), seconds(60), other);
  std::string id;
  ExpectShimRefused(RunPod(*direct_, pod, &id),
                    "approval signature does not match sandbox default/badsig");

  // The right key, one character of the mac changed.
  v1::PodSandboxConfig altered = Pod("altered");
  std::string token = Mint(PodFields(altered), system_clock::now(), seconds(60), key_);
  token.back() = token.back() == 'A' ? 'B' : 'A';
  (*altered.mutable_annotations())[kApprovalAnnotation] = token;
  ExpectShimRefused(RunPod(*direct_, altered, &id),
                    "approval signature does not match sandbox default/altered");
}

TEST_F(NoBypass, ContainerdRestartKeepsGatedTasksManageable) {
  const v1::PodSandboxConfig pod = Pod("restart");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ASSERT_TRUE(CreateAndStart(*through_, pod_id, pod, Sleeper("app"), &id).ok());

  const std::string restart = "bash '" + ScriptsDir() + "/shim-up.sh' --restart >/dev/null";
  ASSERT_EQ(std::system(restart.c_str()), 0) << restart;
  // containerd reconnects to the running shims (no `start`); crigate to it.
  v1::VersionResponse version;
  for (int i = 0; i < 200 && !through_->Version(&version).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(through_->Version(&version).ok()) << gate_->Log();

  EXPECT_EQ(State(id), v1::CONTAINER_RUNNING);
  v1::ExecSyncResponse exec;
  grpc::Status s = through_->ExecSync(id, {"/bin/echo", "still here"}, &exec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exec.stdout(), "still here\n");
  // The restarted containerd still runs every start through the shim...
  std::string bypass;
  ExpectShimRefused(CreateAndStart(*direct_, pod_id, pod, Sleeper("sneaky"), &bypass),
                    "no crigate.io/approval annotation");
  // ...and what the gate allows still starts.
  std::string after;
  s = CreateAndStart(*through_, pod_id, pod, Sleeper("after"), &after);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(through_->StopContainer(id, 0).ok());
  ASSERT_TRUE(through_->RemoveContainer(id).ok());
  ASSERT_TRUE(through_->StopPodSandbox(pod_id).ok());
  ASSERT_TRUE(through_->RemovePodSandbox(pod_id).ok());
  pods_.clear();
}

// RunPodSandbox, CreateContainer and StartContainer through crigate: with
// approvals, against the shim instance, and without, against the main
// containerd's plain runc runtime. Alternating, so a busy machine slows both.
TEST_F(NoBypass, DISABLED_StartLatencyWithAndWithoutTheShim) {
  const int rounds = std::max(1, std::atoi(Env("CRIGATE_SHIM_BENCH_N", "20").c_str()));
  CrigateProcess::Options plain_options;  // backend: ContainerdSocket()
  CrigateProcess plain(plain_options);
  ASSERT_TRUE(plain.WaitReady()) << plain.Log();
  CriClient plain_cri(plain.socket());
  CriClient plain_direct(ContainerdSocket());

  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  };
  std::vector<double> times[2][3];  // [plain, shim][run pod, create, start]
  for (int i = 0; i < 2 * rounds; ++i) {
    const int shim = i % 2;
    CriClient& cri = shim ? *through_ : plain_cri;
    CriClient& direct = shim ? *direct_ : plain_direct;
    const v1::PodSandboxConfig pod = Pod("bench");
    std::string pod_id, id;
    auto start = Clock::now();
    grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
    times[shim][0].push_back(ms(start));
    ASSERT_TRUE(s.ok()) << s.error_message();
    start = Clock::now();
    s = cri.CreateContainer(pod_id, Sleeper("app"), pod, &id);
    times[shim][1].push_back(ms(start));
    ASSERT_TRUE(s.ok()) << s.error_message();
    start = Clock::now();
    s = cri.StartContainer(id);
    times[shim][2].push_back(ms(start));
    ASSERT_TRUE(s.ok()) << s.error_message();
    (void)direct.StopPodSandbox(pod_id);
    (void)direct.RemovePodSandbox(pod_id);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const char* names[] = {"RunPodSandbox", "CreateContainer", "StartContainer"};
  for (int call = 0; call < 3; ++call) {
    const double without = median(times[0][call]), with = median(times[1][call]);
    std::printf("%-16s median over %d: without shim %.1f ms, with shim %.1f ms, ratio %.3f\n",
                names[call], rounds, without, with, with / without);
  }
}

}  // namespace
}  // namespace crigate::test
