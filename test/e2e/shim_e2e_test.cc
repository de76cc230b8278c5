// No bypass, end to end: a real containerd whose containerd-shim-runc-v2 is
// crigate's wrapper, with the real runc shim moved aside without execute
// permission (scripts/shim-up.sh, which scripts/test.sh runs), behind a real
// crigate with [approval] enabled. What crigate allows runs; what goes
// straight to containerd (CRI, ctr, any runtime name or the real shim's
// path) never starts a task. Outcomes are read from containerd directly.
//
// Environment (scripts/test.sh sets it from shim-up.sh's output):
//   CRIGATE_SHIM_RUN_DIR          its run dir (default ${CRIGATE_RUN_DIR}-shim)
//   CRIGATE_SHIM_CONTAINERD_SOCK  its socket (default <run dir>/containerd.sock)
//   CRIGATE_SHIM_KEY_FILE         its approval key (default <run dir>/approval.key)
//   CRIGATE_SHIM_APPROVALS        where the wrapper looks for approvals
//   CRIGATE_SHIM_REAL             the real runc shim (mode 0600)
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
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "shim/approval.h"
#include "shim/approval_store.h"
#include "shim/runtime_spec.h"
#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

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
std::string ApprovalDir() { return Env("CRIGATE_SHIM_APPROVALS", ShimRunDir() + "/approvals"); }
std::string RealShim() {
  return Env("CRIGATE_SHIM_REAL", ShimRunDir() + "/real-shim/containerd-shim-runc-v2");
}
std::string ScriptsDir() {
  // __FILE__ is <repo>/test/e2e/shim_e2e_test.cc.
  std::string here = __FILE__;
  return Env("CRIGATE_SCRIPTS_DIR", here.substr(0, here.rfind("/test/e2e/")) + "/scripts");
}

// crigate in front of the shim instance, approving what it allows.
CrigateProcess::Options GateOptions(const std::string& privilege = "") {
  CrigateProcess::Options options;
  options.backend_socket = ShimSocket();
  options.policy += privilege;
  options.body = "[approval]\nenabled = true\nkey_file = \"" + ShimKeyFile() + "\"\ndir = \"" +
                 ApprovalDir() + "\"\n";
  return options;
}

// `ctr` against the shim instance, in CRI's namespace.
Ran Ctr(std::vector<std::string> args) {
  // containerd's own client, from Debian's containerd package.
  args.insert(args.begin(), {Env("CRIGATE_CTR", "/usr/bin/ctr"), "--address", ShimSocket(),
                             "--namespace", "k8s.io"});
  return RunProgram(args, std::chrono::seconds(60));
}

// Files in the approval directory: approvals live for one call at most.
std::vector<std::string> ApprovalsLeft() {
  std::vector<std::string> names;
  const Ran ls = RunProgram({"/bin/ls", "-A", ApprovalDir()}, std::chrono::seconds(10));
  size_t start = 0;
  for (size_t nl; (nl = ls.out.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) names.push_back(ls.out.substr(start, nl - start));
  }
  return names;
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
        << "containerd with crigate's shim wrapper is not running at " << ShimSocket()
        << ": start it with scripts/shim-up.sh (scripts/test.sh does)";
    const base::Status s = shim::LoadApprovalKey(ShimKeyFile(), &key_);
    ASSERT_TRUE(s.ok()) << s.message();
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

  // The runtime spec containerd holds for a container (ContainerStatus,
  // verbose), parsed.
  nlohmann::json RuntimeSpec(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    req.set_verbose(true);
    std::string raw;
    grpc::Status s = direct_->RawCall("/runtime.v1.RuntimeService/ContainerStatus",
                                      req.SerializeAsString(), &raw);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::ContainerStatusResponse resp;
    EXPECT_TRUE(resp.ParseFromString(raw));
    const auto it = resp.info().find("info");
    if (it == resp.info().end()) return nlohmann::json();
    return nlohmann::json::parse(it->second, nullptr, false).value("runtimeSpec", nlohmann::json());
  }

  // An approval as crigate writes it, for `id`, binding `spec_digest`: what a
  // thief who got hold of another container's approval would hold.
  void PlantApproval(const std::string& id, const std::string& spec_digest,
                     const shim::ApprovalKey* key = nullptr, int64_t ttl_seconds = 60) {
    shim::ApprovalRecord r;
    r.kind = shim::ApprovalKind::kContainer;
    r.container_id = id;
    r.spec_digest = spec_digest;
    r.expires_unix = time(nullptr) + ttl_seconds;
    const base::Status s = shim::WriteApproval(ApprovalDir(), key ? *key : key_, r);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  v1::ContainerState State(const std::string& id) {
    v1::ContainerStatusResponse st;
    grpc::Status s = direct_->ContainerStatus(id, &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st.status().state();
  }

  shim::ApprovalKey key_;
  std::unique_ptr<CrigateProcess> gate_;
  std::unique_ptr<CriClient> through_;
  std::unique_ptr<CriClient> direct_;
  std::vector<std::string> pods_;
};

TEST_F(NoBypass, PodAndContainerThroughCrigateRunAndStopAndRemove) {
  const v1::PodSandboxConfig pod = Pod("gated");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty()) << gate_->Log();
  std::string id;
  // A prefix of the pod id, as crictl allows.
  grpc::Status s = CreateAndStart(*through_, pod_id.substr(0, 13), pod, Sleeper("app"), &id);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << gate_->Log();
  EXPECT_EQ(State(id), v1::CONTAINER_RUNNING);
  // Nothing to steal: no approval in containerd's records, none left over.
  v1::ContainerStatusResponse st;
  ASSERT_TRUE(direct_->ContainerStatus(id, &st).ok());
  for (const auto& [key, value] : st.status().annotations()) {
    EXPECT_EQ(key.find("crigate"), std::string::npos) << key;
  }
  EXPECT_EQ(ApprovalsLeft(), std::vector<std::string>{});

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
  ExpectShimRefused(RunPod(*direct_, pod, &id), "sandbox ");
  // Nor with containerd's runc handler named explicitly: it is the wrapper.
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = pod;
  req.set_runtime_handler("runc");
  grpc::Status s = direct_->RawCall("/runtime.v1.RuntimeService/RunPodSandbox",
                                    req.SerializeAsString(), nullptr);
  ExpectShimRefused(s, "sandbox ");
  // The very same config through the gate runs.
  EXPECT_FALSE(GatedPod(pod).empty()) << gate_->Log();
}

TEST_F(NoBypass, ContainerCreatedStraightInAnApprovedPodFails) {
  const v1::PodSandboxConfig pod = Pod("approved-pod");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  const grpc::Status straight = CreateAndStart(*direct_, pod_id, pod, Sleeper("sneaky"), &id);
  ExpectShimRefused(straight,
                    "container " + id + ": no approval: crigate did not allow this start");
  EXPECT_NE(State(id), v1::CONTAINER_RUNNING);
  EXPECT_TRUE(direct_->RemoveContainer(id).ok());
  // A gated container in the same pod still runs.
  std::string ok;
  grpc::Status s = CreateAndStart(*through_, pod_id, pod, Sleeper("app"), &ok);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// B3: an approval of one container's judged spec, moved onto another
// container created straight through containerd, starts nothing: not with
// another command, not with the host's /etc mounted, not even with the very
// same spec (the id is bound).
TEST_F(NoBypass, AnApprovalBindsTheSpecAndTheIdOfWhatRuns) {
  const v1::PodSandboxConfig pod = Pod("stolen");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string approved;
  ASSERT_TRUE(through_->CreateContainer(pod_id, Sleeper("app"), pod, &approved).ok());
  const std::string approved_digest = shim::SpecDigest(RuntimeSpec(approved), approved);
  ASSERT_FALSE(approved_digest.empty());

  v1::ContainerConfig other_command = Sleeper("other-command");
  other_command.clear_command();
  for (const char* arg : {"/bin/sh", "-c", "cat /etc/shadow; sleep 3600"}) {
    other_command.add_command(arg);
  }
  v1::ContainerConfig host_etc = Sleeper("host-etc");
  v1::Mount* mount = host_etc.add_mounts();
  mount->set_container_path("/host");
  mount->set_host_path("/etc");
  const v1::ContainerConfig same_spec = Sleeper("same-spec");
  for (const v1::ContainerConfig& config : {other_command, host_etc, same_spec}) {
    std::string id;
    ASSERT_TRUE(direct_->CreateContainer(pod_id, config, pod, &id).ok());
    PlantApproval(id, approved_digest);
    ExpectShimRefused(direct_->StartContainer(id), "container " + id + ": its runtime spec");
    EXPECT_NE(State(id), v1::CONTAINER_RUNNING) << config.metadata().name();
    // The approval for `id` was used up by the refused attempt (CRI now
    // calls the container exited; ctr asks containerd for a task anyway).
    const Ran again = Ctr({"task", "start", "--detach", id});
    EXPECT_NE(again.err.find("crigate refused the start: container " + id + ": no approval"),
              std::string::npos)
        << again.err;
  }
  // The approved container itself is untouched and starts through the gate.
  grpc::Status s = through_->StartContainer(approved);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(State(approved), v1::CONTAINER_RUNNING);
}

// An approval for exactly the right container and spec, but signed with
// another key or expired (left by a crash), starts nothing.
TEST_F(NoBypass, ForgedAndExpiredApprovalsFail) {
  const v1::PodSandboxConfig pod = Pod("forged");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ASSERT_TRUE(direct_->CreateContainer(pod_id, Sleeper("app"), pod, &id).ok());
  const std::string digest = shim::SpecDigest(RuntimeSpec(id), id);
  const shim::ApprovalKey other(std::string(32, 'x'));
  PlantApproval(id, digest, &other);
  const Ran forged = Ctr({"task", "start", "--detach", id});
  EXPECT_NE(forged.err.find("was not signed with this node's approval key"), std::string::npos)
      << forged.err;
  PlantApproval(id, digest, nullptr, /*ttl_seconds=*/-1);
  const Ran expired = Ctr({"task", "start", "--detach", id});
  EXPECT_NE(expired.err.find("expired"), std::string::npos) << expired.err;
  EXPECT_EQ(Ctr({"task", "ls", "--quiet"}).out.find(id), std::string::npos);
  // The same approval, valid: this is what crigate writes, and it starts.
  PlantApproval(id, digest);
  const Ran valid = Ctr({"task", "start", "--detach", id});
  EXPECT_EQ(valid.code, 0) << valid.err;
  const Ran tasks = Ctr({"task", "ls"});
  EXPECT_NE(tasks.out.find(id), std::string::npos) << tasks.out;
  (void)Ctr({"task", "kill", "--signal", "SIGKILL", id});
}

// B6, and "by any route": a start crigate denies leaves nothing that would
// let containerd start the container, through CRI or through `ctr`.
TEST_F(NoBypass, AStartCrigateDeniesCannotHappenByAnyRoute) {
  const v1::PodSandboxConfig pod = Pod("denied-start");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ASSERT_TRUE(through_->CreateContainer(pod_id, Sleeper("app"), pod, &id).ok());
  // The same node, now with a gate that lets no caller start anything.
  StartGate(GateOptions("[privilege]\nsuper_uids = [4242]\n"));
  grpc::Status s = through_->StartContainer(id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(ApprovalsLeft(), std::vector<std::string>{});

  ExpectShimRefused(direct_->StartContainer(id), "container " + id + ": no approval");
  const Ran ctr = Ctr({"task", "start", "--detach", id});
  EXPECT_NE(ctr.code, 0);
  EXPECT_NE(ctr.err.find("crigate refused the start: container " + id), std::string::npos)
      << ctr.err;
  EXPECT_NE(State(id), v1::CONTAINER_RUNNING);
  const Ran tasks = Ctr({"task", "ls", "--quiet"});
  EXPECT_EQ(tasks.out.find(id), std::string::npos) << tasks.out;
}

// B2: `ctr run` picks containerd's runc runtime by name (v2 or v1), the v1
// linux runtime, or the real runc shim by its path; none starts a task.
TEST_F(NoBypass, CtrRunIsRefusedByRuntimeNameAndByTheRealShimsPath) {
  const Ran by_default = Ctr({"run", "--rm", kBusybox, "b2-default", "/bin/true"});
  EXPECT_NE(by_default.code, 0);
  EXPECT_NE(by_default.err.find("crigate refused the start: task b2-default is not a pod or "
                                "container that containerd's CRI created"),
            std::string::npos)
      << by_default.err;
  const Ran by_name =
      Ctr({"run", "--rm", "--runtime", "io.containerd.runc.v2", kBusybox, "b2-name", "/bin/true"});
  EXPECT_NE(by_name.code, 0);
  EXPECT_NE(by_name.err.find("crigate refused the start: task b2-name"), std::string::npos)
      << by_name.err;
  const Ran by_v1_name =
      Ctr({"run", "--rm", "--runtime", "io.containerd.runc.v1", kBusybox, "b2-v1", "/bin/true"});
  EXPECT_NE(by_v1_name.code, 0);
  EXPECT_NE(by_v1_name.err.find("crigate refused the start: task b2-v1"), std::string::npos)
      << by_v1_name.err;
  // The v1 linux runtime runs containerd-shim and runc with no v2 shim.
  const Ran v1_linux = Ctr({"run", "--rm", "--runtime", "io.containerd.runtime.v1.linux", kBusybox,
                            "b2-v1-linux", "/bin/true"});
  EXPECT_NE(v1_linux.code, 0);
  EXPECT_NE(v1_linux.err.find("failed to start shim"), std::string::npos) << v1_linux.err;
  const Ran by_path =
      Ctr({"run", "--rm", "--runtime", RealShim(), kBusybox, "b2-path", "/bin/true"});
  EXPECT_NE(by_path.code, 0);
  EXPECT_NE(by_path.err.find("permission denied"), std::string::npos) << by_path.err;
  const Ran tasks = Ctr({"task", "ls", "--quiet"});
  for (const char* id : {"b2-default", "b2-name", "b2-v1", "b2-v1-linux", "b2-path"}) {
    EXPECT_EQ(tasks.out.find(id), std::string::npos) << id;
    (void)Ctr({"container", "rm", id});
  }
}

// A started container's approval is gone: starting it again straight
// through containerd fails, also after crigate and containerd restart, while
// the container stays manageable through crigate.
TEST_F(NoBypass, NothingIsLeftToReplayAfterAStartOrARestart) {
  const v1::PodSandboxConfig pod = Pod("replay");
  const std::string pod_id = GatedPod(pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  ASSERT_TRUE(CreateAndStart(*through_, pod_id, pod, Sleeper("app"), &id).ok());
  ASSERT_TRUE(through_->StopContainer(id, 0).ok());
  EXPECT_EQ(ApprovalsLeft(), std::vector<std::string>{});
  // A new task for the exited container, straight through containerd.
  auto restart_straight = [&](const char* when) {
    const Ran ctr = Ctr({"task", "start", "--detach", id});
    EXPECT_NE(ctr.code, 0) << when;
    EXPECT_NE(ctr.err.find("crigate refused the start: container " + id + ": no approval"),
              std::string::npos)
        << when << ": " << ctr.err;
    // containerd holds no task for it (CRI's own state does not see tasks
    // started outside CRI, so ask containerd's task list).
    EXPECT_EQ(Ctr({"task", "ls", "--quiet"}).out.find(id), std::string::npos) << when;
  };
  restart_straight("after the start");

  gate_->Kill();
  gate_->Restart();
  ASSERT_TRUE(gate_->WaitReady()) << gate_->Log();
  through_ = std::make_unique<CriClient>(gate_->socket());
  restart_straight("after crigate restarted");

  const std::string restart = "bash '" + ScriptsDir() + "/shim-up.sh' --restart >/dev/null";
  ASSERT_EQ(std::system(restart.c_str()), 0) << restart;
  v1::VersionResponse version;
  for (int i = 0; i < 200 && !through_->Version(&version).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  restart_straight("after containerd restarted");

  // Still manageable through crigate.
  std::string next;
  grpc::Status s = CreateAndStart(*through_, pod_id, pod, Sleeper("next"), &next);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ExecSyncResponse exec;
  s = through_->ExecSync(next, {"/bin/echo", "ok"}, &exec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exec.stdout(), "ok\n");
  EXPECT_TRUE(through_->RemoveContainer(id).ok());
  EXPECT_TRUE(through_->StopContainer(next, 0).ok());
  EXPECT_TRUE(through_->RemoveContainer(next).ok());
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
  const grpc::Status straight = CreateAndStart(*direct_, pod_id, pod, Sleeper("sneaky"), &bypass);
  ExpectShimRefused(straight, "container " + bypass + ": no approval");
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
