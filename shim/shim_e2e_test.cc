// The shim against a real containerd whose CRI default runtime is crigate's
// (shim/containerd-runtime.toml). The test plays the gate: it mints approvals
// with the same library and key the daemon uses and sends the requests
// straight to containerd's CRI socket, with and without them. So it checks
// the runtime side alone; the daemon's adding of approvals is tested with it.
//
// Setup (as root; skips unless CRIGATE_SHIM_E2E_SOCK is set):
//   export CRIGATE_RUN_DIR=/tmp/shimtest CRIGATE_DEFAULT_RUNTIME=crigate
//   export CRIGATE_CONTAINERD_EXTRA_CONFIG=<build>/shim/containerd-runtime.toml
//   export CRIGATE_SHIM_KEY=/tmp/shimtest.key      (crigate-approval keygen)
//   export PATH=<dir holding containerd-shim-crigate-v2>:$PATH
//   scripts/containerd-up.sh && scripts/build-images.sh && scripts/import-images.sh
//   CRIGATE_SHIM_E2E_SOCK=$CRIGATE_RUN_DIR/containerd.sock shim_e2e_test
// CRIGATE_SHIM_E2E_RESTART, a shell command that restarts that containerd
// (e.g. kill it, then scripts/containerd-up.sh), enables the restart test.
// CRIGATE_SHIM_E2E_BENCH=N times N pod and container starts through the
// crigate runtime against the same through the "runc" handler (containerd-up.sh
// registers it; a production config must not).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "shim/approval.h"
#include "test/cri_client.h"

namespace crigate::shim {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;
namespace v1 = ::runtime::v1;

constexpr char kBusybox[] = "docker.io/library/busybox:1.35";

class ShimE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("CRIGATE_SHIM_E2E_SOCK");
    if (sock == nullptr || *sock == '\0') GTEST_SKIP() << "CRIGATE_SHIM_E2E_SOCK not set";
    const char* key = std::getenv("CRIGATE_SHIM_KEY");
    ASSERT_NE(key, nullptr) << "CRIGATE_SHIM_KEY: the key containerd's shims use";
    const ApprovalStatus s = LoadApprovalKey(key, &key_);
    ASSERT_TRUE(s.ok()) << s.reason();
    cri_ = std::make_unique<test::CriClient>(sock);
    char tmpl[] = "/tmp/crigate-shim-e2e.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    log_dir_ = tmpl;
  }

  void TearDown() override {
    if (!cri_) return;
    for (const auto& id : containers_) {
      (void)cri_->StopContainer(id, 0);
      (void)cri_->RemoveContainer(id);
    }
    for (const auto& id : pods_) {
      (void)cri_->StopPodSandbox(id);
      (void)cri_->RemovePodSandbox(id);
    }
    std::system(("rm -rf " + log_dir_).c_str());
  }

  std::string Mint(const ApprovalFields& f, system_clock::time_point now = system_clock::now(),
                   seconds ttl = seconds(120), const ApprovalKey* key = nullptr) {
    std::string token;
    const ApprovalStatus s = MintApproval(key ? *key : key_, f, ttl, &token, now);
    EXPECT_TRUE(s.ok()) << s.reason();
    return token;
  }

  v1::PodSandboxConfig Pod(const std::string& name) { return test::HostNetworkPod(name, log_dir_); }
  static ApprovalFields PodFields(const v1::PodSandboxConfig& pod) {
    return SandboxApprovalFields(pod.metadata().namespace_(), pod.metadata().name(),
                                 pod.metadata().uid());
  }

  // What the gate does at RunPodSandbox.
  grpc::Status RunApprovedPod(v1::PodSandboxConfig* pod, std::string* id) {
    (*pod->mutable_annotations())[kApprovalAnnotation] = Mint(PodFields(*pod));
    return RunPod(*pod, id);
  }
  grpc::Status RunPod(const v1::PodSandboxConfig& pod, std::string* id) {
    grpc::Status s = cri_->RunPodSandbox(pod, id);
    if (s.ok()) pods_.push_back(*id);
    return s;
  }

  // What the gate must sign at CreateContainer.
  ApprovalFields ContainerFields(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                                 const std::string& name) {
    v1::ImageStatusResponse image;
    EXPECT_TRUE(cri_->ImageStatus(kBusybox, &image).ok());
    const auto& img = image.image();
    return ContainerApprovalFields(
        pod.metadata().namespace_(), pod.metadata().name(), pod.metadata().uid(), pod_id, name,
        ContainerdImageName(img.id(), {img.repo_tags().begin(), img.repo_tags().end()},
                            {img.repo_digests().begin(), img.repo_digests().end()}));
  }

  grpc::Status CreateAndStart(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                              const v1::ContainerConfig& config, std::string* id) {
    grpc::Status s = cri_->CreateContainer(pod_id, config, pod, id);
    if (!s.ok()) return s;
    containers_.push_back(*id);
    return cri_->StartContainer(*id);
  }

  static v1::ContainerConfig Sleeper(const std::string& name) {
    return test::Container(name, kBusybox, {"/bin/sleep", "3600"});
  }
  v1::ContainerConfig ApprovedSleeper(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                                      const std::string& name) {
    v1::ContainerConfig c = Sleeper(name);
    (*c.mutable_annotations())[kApprovalAnnotation] = Mint(ContainerFields(pod_id, pod, name));
    return c;
  }

  static void ExpectShimRefused(const grpc::Status& s, const std::string& reason) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.error_message().find("crigate refused the start: " + reason), std::string::npos)
        << s.error_message();
  }

  v1::ContainerState State(const std::string& id) {
    v1::ContainerStatusResponse st;
    EXPECT_TRUE(cri_->ContainerStatus(id, &st).ok());
    return st.status().state();
  }

  ApprovalKey key_;
  std::unique_ptr<test::CriClient> cri_;
  std::string log_dir_;
  std::vector<std::string> pods_;
  std::vector<std::string> containers_;
};

TEST_F(ShimE2eTest, ApprovedPodAndContainerRunAndCanBeStoppedAndRemoved) {
  v1::PodSandboxConfig pod = Pod("shim-ok");
  std::string pod_id;
  grpc::Status s = RunApprovedPod(&pod, &pod_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::string id;
  s = CreateAndStart(pod_id, pod, ApprovedSleeper(pod_id, pod, "app"), &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(State(id), v1::CONTAINER_RUNNING);
  v1::ExecSyncResponse exec;
  ASSERT_TRUE(cri_->ExecSync(id, {"/bin/echo", "inside"}, &exec).ok());
  EXPECT_EQ(exec.stdout(), "inside\n");

  ASSERT_TRUE(cri_->StopContainer(id, 0).ok());
  EXPECT_EQ(State(id), v1::CONTAINER_EXITED);
  ASSERT_TRUE(cri_->RemoveContainer(id).ok());
  ASSERT_TRUE(cri_->StopPodSandbox(pod_id).ok());
  ASSERT_TRUE(cri_->RemovePodSandbox(pod_id).ok());
  containers_.clear();
  pods_.clear();
}

TEST_F(ShimE2eTest, PodSentStraightToContainerdFailsAtSandboxStart) {
  std::string pod_id;
  ExpectShimRefused(RunPod(Pod("shim-bypass"), &pod_id),
                    "no crigate.io/approval annotation: not started through crigate");
}

TEST_F(ShimE2eTest, ContainerCreatedStraightThroughContainerdInAnApprovedPodFails) {
  v1::PodSandboxConfig pod = Pod("shim-ctr-bypass");
  std::string pod_id;
  ASSERT_TRUE(RunApprovedPod(&pod, &pod_id).ok());
  std::string id;
  // The pod's own config, approval included, as the sandbox config: the
  // pod's approval reaches the container's spec through pod_annotations.
  ExpectShimRefused(CreateAndStart(pod_id, pod, Sleeper("sneaky"), &id),
                    "approval was issued for a sandbox");
  EXPECT_NE(State(id), v1::CONTAINER_RUNNING);
  // Without it.
  v1::PodSandboxConfig bare = pod;
  bare.mutable_annotations()->erase(kApprovalAnnotation);
  ExpectShimRefused(CreateAndStart(pod_id, bare, Sleeper("sneaky2"), &id),
                    "no crigate.io/approval annotation");
}

TEST_F(ShimE2eTest, ApprovalCopiedOntoAnotherContainerFails) {
  v1::PodSandboxConfig pod = Pod("shim-copy");
  std::string pod_id;
  ASSERT_TRUE(RunApprovedPod(&pod, &pod_id).ok());
  v1::ContainerConfig approved = ApprovedSleeper(pod_id, pod, "app");
  v1::ContainerConfig other = Sleeper("evil");
  (*other.mutable_annotations())[kApprovalAnnotation] =
      approved.annotations().at(kApprovalAnnotation);
  std::string id;
  ExpectShimRefused(CreateAndStart(pod_id, pod, other, &id),
                    "approval signature does not match container default/shim-copy/evil");
}

TEST_F(ShimE2eTest, ApprovalOfAStartedContainerCannotStartAnother) {
  v1::PodSandboxConfig pod = Pod("shim-replay");
  std::string pod_id;
  ASSERT_TRUE(RunApprovedPod(&pod, &pod_id).ok());
  v1::ContainerConfig approved = ApprovedSleeper(pod_id, pod, "app");
  std::string id;
  ASSERT_TRUE(CreateAndStart(pod_id, pod, approved, &id).ok());
  // Same name, image and pod, next attempt: the copy matches every field.
  v1::ContainerConfig copy = approved;
  copy.mutable_metadata()->set_attempt(1);
  copy.clear_command();
  copy.add_command("/bin/sh");
  std::string id2;
  ExpectShimRefused(CreateAndStart(pod_id, pod, copy, &id2),
                    "approval was already used to start a task");
}

TEST_F(ShimE2eTest, ContainerdRestartKeepsGatedTasksManageable) {
  const char* restart = std::getenv("CRIGATE_SHIM_E2E_RESTART");
  if (restart == nullptr || *restart == '\0') GTEST_SKIP() << "CRIGATE_SHIM_E2E_RESTART not set";
  v1::PodSandboxConfig pod = Pod("shim-restart");
  std::string pod_id;
  ASSERT_TRUE(RunApprovedPod(&pod, &pod_id).ok());
  std::string id;
  ASSERT_TRUE(CreateAndStart(pod_id, pod, ApprovedSleeper(pod_id, pod, "app"), &id).ok());

  ASSERT_EQ(std::system(restart), 0) << restart;
  // containerd reconnects to the running shims (no `start`); wait for CRI.
  v1::VersionResponse version;
  for (int i = 0; i < 100 && !cri_->Version(&version).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(State(id), v1::CONTAINER_RUNNING);
  v1::ExecSyncResponse exec;
  ASSERT_TRUE(cri_->ExecSync(id, {"/bin/echo", "still here"}, &exec).ok());
  EXPECT_EQ(exec.stdout(), "still here\n");
  // A new container in the same pod after the restart, through the gate.
  std::string id2;
  grpc::Status s = CreateAndStart(pod_id, pod, ApprovedSleeper(pod_id, pod, "after"), &id2);
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(cri_->StopContainer(id, 0).ok());
  ASSERT_TRUE(cri_->RemoveContainer(id).ok());
  ASSERT_TRUE(cri_->StopPodSandbox(pod_id).ok());
  ASSERT_TRUE(cri_->RemovePodSandbox(pod_id).ok());
  containers_ = {id2};  // removed with its pod; TearDown tolerates that
  pods_.clear();
}

TEST_F(ShimE2eTest, StartLatencyAgainstRuncHandler) {
  const char* bench = std::getenv("CRIGATE_SHIM_E2E_BENCH");
  if (bench == nullptr || std::atoi(bench) <= 0) GTEST_SKIP() << "CRIGATE_SHIM_E2E_BENCH not set";
  const int n = std::atoi(bench);
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  };
  std::vector<double> pod_ms[2], ctr_ms[2];  // [0] runc handler, [1] crigate (default)
  for (int i = 0; i < 2 * n; ++i) {
    const int gated = i % 2;
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = Pod("shim-bench");
    if (gated) {
      (*req.mutable_config()->mutable_annotations())[kApprovalAnnotation] =
          Mint(PodFields(req.config()));
    } else {
      req.set_runtime_handler("runc");
    }
    std::string raw;
    auto start = Clock::now();
    grpc::Status s =
        cri_->RawCall("/runtime.v1.RuntimeService/RunPodSandbox", req.SerializeAsString(), &raw);
    const double pod_time = ms(start);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::RunPodSandboxResponse resp;
    ASSERT_TRUE(resp.ParseFromString(raw));
    const std::string pod_id = resp.pod_sandbox_id();
    pods_.push_back(pod_id);
    v1::ContainerConfig c = gated ? ApprovedSleeper(pod_id, req.config(), "app") : Sleeper("app");
    std::string id;
    ASSERT_TRUE(cri_->CreateContainer(pod_id, c, req.config(), &id).ok());
    containers_.push_back(id);
    start = Clock::now();
    s = cri_->StartContainer(id);
    const double ctr_time = ms(start);
    ASSERT_TRUE(s.ok()) << s.error_message();
    pod_ms[gated].push_back(pod_time);
    ctr_ms[gated].push_back(ctr_time);
    (void)cri_->StopContainer(id, 0);
    (void)cri_->RemoveContainer(id);
    (void)cri_->StopPodSandbox(pod_id);
    (void)cri_->RemovePodSandbox(pod_id);
    containers_.clear();
    pods_.clear();
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("RunPodSandbox  median: runc %.1f ms, crigate %.1f ms, ratio %.3f\n",
              median(pod_ms[0]), median(pod_ms[1]), median(pod_ms[1]) / median(pod_ms[0]));
  std::printf("StartContainer median: runc %.1f ms, crigate %.1f ms, ratio %.3f\n",
              median(ctr_ms[0]), median(ctr_ms[1]), median(ctr_ms[1]) / median(ctr_ms[0]));
}

TEST_F(ShimE2eTest, ExpiredApprovalFails) {
  v1::PodSandboxConfig pod = Pod("shim-expired");
  (*pod.mutable_annotations())[kApprovalAnnotation] =
      Mint(PodFields(pod), system_clock::now() - seconds(600), seconds(60));
  std::string pod_id;
  ExpectShimRefused(RunPod(pod, &pod_id), "approval expired at ");
}

TEST_F(ShimE2eTest, BadSignatureFails) {
  const ApprovalKey other(std::string(32, 'x'));
  v1::PodSandboxConfig pod = Pod("shim-badsig");
  (*pod.mutable_annotations())[kApprovalAnnotation] =
      Mint(PodFields(pod), system_clock::now(), seconds(60), &other);
  std::string pod_id;
  ExpectShimRefused(RunPod(pod, &pod_id), "approval signature does not match sandbox default/");
}

}  // namespace
}  // namespace crigate::shim
