#include "policy/trust_stage.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using testing::Digest;
using testing::FakeResolver;
using testing::TempDir;
using Code = base::Code;

const std::string kStore = R"(
[[rule]]
name = "pause"
image = "registry.k8s.io/pause:*"
namespaces = ["default", "edge-*"]
allow_host_network = true

[[rule]]
name = "busybox"
image = "docker.io/library/busybox:*"
digests = [")" + Digest('a') +
                           R"("]
namespaces = ["default", "edge-*"]
max_cpu_millicores = 500
max_memory_bytes = 268435456

[[rule]]
name = "tools"
registry = "localhost:5000"
repository = "tools/*"
actions = ["PullImage", "RemoveImage"]
)";

class TrustStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Write("trust.toml", kStore);
    std::vector<std::string> errors;
    auto store = TrustStore::Load(path_, errors);
    ASSERT_TRUE(store) << errors[0];
    // busybox:1.36 is the pinned build; busybox:latest on this node is another one.
    resolver_.AddImage({Digest('1'),
                        {"docker.io/library/busybox:1.36"},
                        {"docker.io/library/busybox@" + Digest('a')}});
    resolver_.AddImage({Digest('2'),
                        {"docker.io/library/busybox:latest"},
                        {"docker.io/library/busybox@" + Digest('b')}});
    resolver_.AddImage(
        {Digest('9'), {"registry.k8s.io/pause:3.6"}, {"registry.k8s.io/pause@" + Digest('8')}});
    resolver_.AddImage({Digest('7'), {"docker.io/library/nginx:1.25"}, {}});
    resolver_.AddImage({Digest('6'), {"localhost:5000/tools/dig:1"}, {}});
    stage_ = std::make_unique<TrustStage>(store, TrustStageOptions{"registry.k8s.io/pause:3.6"},
                                          resolver_);
  }

  static GateRequest Create(const std::string& image, const std::string& ns = "default") {
    GateRequest r;
    r.action = "CreateContainer";
    r.image = image;
    r.pod = PodInfo{};
    r.pod->name = "web";
    r.pod->namespace_ = ns;
    r.container = ContainerInfo{};
    r.container->name = "app";
    testing::SetDefaultProcPaths(&r.container->security);
    r.container->resources.cpu_period = 100000;
    r.container->resources.cpu_quota = 50000;  // 500m
    r.container->resources.memory_limit_bytes = 128 << 20;
    return r;
  }

  static GateRequest Named(const std::string& action, const std::string& image) {
    GateRequest r;
    r.action = action;
    r.image = image;
    return r;
  }

  static GateRequest ForContainer(const std::string& action, const std::string& id) {
    GateRequest r;
    r.action = action;
    r.container_id = id;
    return r;
  }

  // For a CreateContainer, the request's sandbox config stands for the real
  // sandbox (the facts stage has compared them), unless the test made one.
  StageResult Check(GateRequest r) {
    state_ = CallState{};
    if (r.action == "CreateContainer" && r.pod && r.pod_sandbox_id.empty()) {
      r.pod_sandbox_id = std::string(63, 'c') + static_cast<char>('0' + sandboxes_++ % 10);
      resolver_.AddSandbox({r.pod_sandbox_id, *r.pod});
    }
    return stage_->Check(r, state_);
  }

  static void ExpectDeny(const StageResult& r, Code code, const std::string& fragment) {
    EXPECT_EQ(r.verdict, Verdict::kDeny) << r.reason;
    EXPECT_EQ(r.code, code) << r.reason;
    EXPECT_NE(r.reason.find(fragment), std::string::npos) << r.reason;
  }

  TempDir dir_;
  std::string path_;
  FakeResolver resolver_;
  std::unique_ptr<TrustStage> stage_;
  CallState state_;
  int sandboxes_ = 0;
};

TEST_F(TrustStageTest, CreateContainerWithPinnedImageIsAllowedAndResolved) {
  StageResult r = Check(Create("busybox:1.36"));
  ASSERT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  EXPECT_EQ(state_.image_ref, "docker.io/library/busybox:1.36");
  EXPECT_EQ(state_.image_digest, Digest('a'));
  EXPECT_NE(std::find(state_.image_names.begin(), state_.image_names.end(), Digest('1')),
            state_.image_names.end());
  EXPECT_EQ(r.reason, "rule 'busybox' allows docker.io/library/busybox:1.36 " + Digest('a'));
}

TEST_F(TrustStageTest, CreateContainerByImageIdMatchesTheNamesTheNodeHolds) {
  StageResult r = Check(Create(Digest('1')));  // kubelet passes the image id
  ASSERT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  EXPECT_EQ(state_.image_ref, "docker.io/library/busybox:1.36");
}

TEST_F(TrustStageTest, DigestOnTheNodeNotPinnedIsDeniedWhateverTheTag) {
  // The tag matches the rule; the node's image under it is not the pinned build.
  StageResult r = Check(Create("busybox:latest"));
  ExpectDeny(r, Code::PERMISSION_DENIED, "not a digest pinned by rule 'busybox'");
  EXPECT_NE(r.reason.find(Digest('b')), std::string::npos);
  EXPECT_EQ(state_.image_digest, Digest('b'));  // what the node holds is reported
  ExpectDeny(Check(Create(Digest('2'))), Code::PERMISSION_DENIED, "not a digest pinned");
}

TEST_F(TrustStageTest, ImageNotOnTheNodeOrMatchingNoRuleIsDenied) {
  ExpectDeny(Check(Create("busybox:1.37")), Code::FAILED_PRECONDITION,
             "image docker.io/library/busybox:1.37 is not on the node");
  ExpectDeny(Check(Create("nginx:1.25")), Code::PERMISSION_DENIED,
             "image docker.io/library/nginx:1.25 matches no trust rule for CreateContainer");
  // tools/* is only for pulling and removing.
  ExpectDeny(Check(Create("localhost:5000/tools/dig:1")), Code::PERMISSION_DENIED,
             "matches no trust rule");
  ExpectDeny(Check(Create("Not/Valid")), Code::INVALID_ARGUMENT, "is invalid");
}

TEST_F(TrustStageTest, NamespacePrivilegeAndHostNamespacesFollowTheRule) {
  ExpectDeny(Check(Create("busybox:1.36", "kube-system")), Code::PERMISSION_DENIED,
             "does not allow image docker.io/library/busybox:1.36 in pod namespace 'kube-system'");
  EXPECT_EQ(Check(Create("busybox:1.36", "edge-42")).verdict, Verdict::kAllow);

  GateRequest privileged = Create("busybox:1.36");
  privileged.container->privileged = true;
  ExpectDeny(Check(privileged), Code::PERMISSION_DENIED, "does not allow privileged containers");

  GateRequest host = Create("busybox:1.36");
  host.pod->host.host_network = true;  // the pod's, inherited by the container
  ExpectDeny(Check(host), Code::PERMISSION_DENIED, "does not allow the host network namespace");
  host = Create("busybox:1.36");
  host.container->host.host_pid = true;
  ExpectDeny(Check(host), Code::PERMISSION_DENIED, "host PID namespace");
  host = Create("busybox:1.36");
  host.container->host.host_ipc = true;
  ExpectDeny(Check(host), Code::PERMISSION_DENIED, "host IPC namespace");
}

TEST_F(TrustStageTest, CreateContainerIsJudgedInTheRealSandboxNotTheClaimedOne) {
  ExistingSandbox real = testing::Sandbox(std::string(64, 'e'), "web", "kube-system", "u1");
  real.pod.host.host_network = true;
  resolver_.AddSandbox(real);
  GateRequest r = Create("busybox:1.36");  // claims namespace default, no host network
  r.pod_sandbox_id = "eeee";
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "in pod namespace 'kube-system'");
  r.pod_sandbox_id = "ffff";
  ExpectDeny(Check(r), Code::NOT_FOUND, "pod sandbox ffff does not exist");
}

TEST_F(TrustStageTest, TheRulesProfileJudgesTheContainerAndNamesTheControl) {
  // The attack that started it: the host's / read-write with SYS_ADMIN, under
  // a rule that says nothing about profiles (so baseline).
  GateRequest r = Create("busybox:1.36");
  r.container->security.add_capabilities = {"SYS_ADMIN"};
  r.container->security.mounts = {{"/host", "/", false}};
  ExpectDeny(Check(r), Code::PERMISSION_DENIED,
             "baseline: container \"app\" adds capability SYS_ADMIN");
  r.container->security.add_capabilities.clear();
  ExpectDeny(Check(r), Code::PERMISSION_DENIED,
             "baseline: container \"app\" mounts host path / at /host");
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "(rule 'busybox')");
}

TEST_F(TrustStageTest, RunPodSandboxIsJudgedOnItsPodLevelFields) {
  GateRequest r;
  r.action = "RunPodSandbox";
  r.pod = PodInfo{};
  r.pod->name = "web";
  r.pod->namespace_ = "default";
  r.pod->security.sysctls = {{"kernel.msgmax", "65536"}};
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "baseline: pod \"web\" sets sysctl kernel.msgmax");
  r.pod->security.sysctls.clear();
  EXPECT_EQ(Check(r).verdict, Verdict::kAllow);
}

TEST_F(TrustStageTest, ResourceCeilings) {
  GateRequest r = Create("busybox:1.36");
  r.container->resources.cpu_quota = 50001;  // 500.01m rounds up past 500m
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "CPU limit 501m");
  r = Create("busybox:1.36");
  r.container->resources.cpu_quota = 0;  // no limit at all is over any ceiling
  ExpectDeny(Check(r), Code::PERMISSION_DENIED,
             "caps the CPU limit at 500m, and the container sets none");
  r = Create("busybox:1.36");
  r.container->resources.memory_limit_bytes = (256 << 20) + 1;
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "memory limit 268435457 bytes is over");
  r.container->resources.memory_limit_bytes = 0;
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "caps the memory limit");
}

TEST_F(TrustStageTest, BackendFailureIsAnErrorNotAnAllow) {
  resolver_.FailWith(Fail(Code::UNAVAILABLE, "connection refused"));
  StageResult r = Check(Create("busybox:1.36"));
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_EQ(r.code, Code::UNAVAILABLE);
  EXPECT_NE(r.reason.find("connection refused"), std::string::npos);
}

TEST_F(TrustStageTest, RunPodSandboxChecksTheSandboxImageAndThePod) {
  GateRequest r;
  r.action = "RunPodSandbox";
  r.pod = PodInfo{};
  r.pod->namespace_ = "default";
  r.pod->host.host_network = true;  // allowed by the pause rule
  StageResult result = Check(r);
  ASSERT_EQ(result.verdict, Verdict::kAllow) << result.reason;
  EXPECT_EQ(state_.image_ref, "registry.k8s.io/pause:3.6");
  EXPECT_EQ(state_.image_digest, Digest('8'));

  r.pod->privileged = true;
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "rule 'pause' does not allow privileged");
  r.pod->privileged = false;
  r.pod->namespace_ = "prod";
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "pod namespace 'prod'");

  GateRequest no_pod;
  no_pod.action = "RunPodSandbox";
  ExpectDeny(Check(no_pod), Code::INVALID_ARGUMENT, "no pod config");

  FakeResolver empty;
  std::vector<std::string> errors;
  TrustStage bare(TrustStore::Load(path_, errors), {"registry.k8s.io/pause:3.6"}, empty);
  r.pod->namespace_ = "default";
  CallState state;
  ExpectDeny(bare.Check(r, state), Code::FAILED_PRECONDITION,
             "sandbox image registry.k8s.io/pause:3.6 is not on the node");
}

TEST_F(TrustStageTest, PullImageIsCheckedBeforeAndAfter) {
  StageResult before = Check(Named("PullImage", "busybox:1.36"));
  ASSERT_EQ(before.verdict, Verdict::kAllow) << before.reason;
  EXPECT_NE(before.reason.find("pinned digests checked after the pull"), std::string::npos);
  EXPECT_EQ(resolver_.image_calls, 0);  // nothing is resolved before the pull

  ExpectDeny(Check(Named("PullImage", "busybox@" + Digest('b'))), Code::PERMISSION_DENIED,
             "asks for digest " + Digest('b') + ", not one pinned by rule 'busybox'");
  EXPECT_EQ(Check(Named("PullImage", "busybox@" + Digest('a'))).verdict, Verdict::kAllow);
  ExpectDeny(Check(Named("PullImage", Digest('1'))), Code::INVALID_ARGUMENT, "needs an image name");
  ExpectDeny(Check(Named("PullImage", "nginx:1.25")), Code::PERMISSION_DENIED,
             "matches no trust rule");

  CallState state;
  StageResult after = stage_->CheckPulled(Named("PullImage", "busybox:1.36"), Digest('1'), state);
  EXPECT_EQ(after.verdict, Verdict::kAllow) << after.reason;
  EXPECT_EQ(state.image_digest, Digest('a'));
  // The registry served another build under the tag: refused after the pull.
  after = stage_->CheckPulled(Named("PullImage", "busybox:latest"), Digest('2'), state);
  ExpectDeny(after, Code::PERMISSION_DENIED,
             "pulled image docker.io/library/busybox:latest is " + Digest('2') + ", " +
                 Digest('b') + ", not a digest pinned by rule 'busybox'");
  after = stage_->CheckPulled(Named("PullImage", "busybox:1.36"), Digest('5'), state);
  ExpectDeny(after, Code::FAILED_PRECONDITION, "is not on the node");
  // No pins: anything the rule matches is fine after the pull.
  after = stage_->CheckPulled(Named("PullImage", "localhost:5000/tools/dig:1"), Digest('6'), state);
  EXPECT_EQ(after.verdict, Verdict::kAllow) << after.reason;
}

TEST_F(TrustStageTest, PullImageNamespaceAppliesOnlyWhenThePullNamesAPod) {
  GateRequest r = Named("PullImage", "busybox:1.36");
  EXPECT_EQ(Check(r).verdict, Verdict::kAllow);
  r.pod = PodInfo{};
  r.pod->namespace_ = "prod";
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "pod namespace 'prod'");
}

TEST_F(TrustStageTest, RemoveImageFollowsItsRuleWithoutPins) {
  EXPECT_EQ(Check(Named("RemoveImage", "localhost:5000/tools/dig:1")).verdict, Verdict::kAllow);
  EXPECT_EQ(Check(Named("RemoveImage", Digest('6'))).verdict,
            Verdict::kAllow);  // kubelet GC: by id
  // Removing the unpinned busybox build is fine: removal runs nothing.
  EXPECT_EQ(Check(Named("RemoveImage", "busybox:latest")).verdict, Verdict::kAllow);
  ExpectDeny(Check(Named("RemoveImage", "nginx:1.25")), Code::PERMISSION_DENIED, "no trust rule");
  ExpectDeny(Check(Named("RemoveImage", Digest('4'))), Code::FAILED_PRECONDITION,
             "not on the node");
}

TEST_F(TrustStageTest, StartContainerRechecksPrivilegeAndHostNamespacesAsRecorded) {
  ExistingContainer privileged =
      testing::Container("c-priv", "docker.io/library/busybox:1.36", Digest('1'), "s1", "default");
  privileged.config->privileged = true;
  resolver_.AddContainer(privileged);
  ExpectDeny(Check(ForContainer("StartContainer", "c-priv")), Code::PERMISSION_DENIED,
             "does not allow privileged containers");
  ExistingContainer host_pod =
      testing::Container("c-host", "docker.io/library/busybox:1.36", Digest('1'), "s1", "default");
  host_pod.pod->host.host_pid = true;
  resolver_.AddContainer(host_pod);
  ExpectDeny(Check(ForContainer("StartContainer", "c-host")), Code::PERMISSION_DENIED,
             "host PID namespace");
  // Judged on the reference it was created with, not the first tag of its image.
  ExistingContainer latest = testing::Container("c-latest", "docker.io/library/busybox:latest",
                                                Digest('2'), "s1", "default");
  resolver_.AddContainer(latest);
  ExpectDeny(Check(ForContainer("StartContainer", "c-latest")), Code::PERMISSION_DENIED,
             "docker.io/library/busybox:latest");
  ExistingContainer unknown = testing::Container("c-unknown", "docker.io/library/busybox:1.36",
                                                 Digest('1'), "s1", "default");
  unknown.config.reset();
  resolver_.AddContainer(unknown);
  StageResult r = Check(ForContainer("StartContainer", "c-unknown"));
  EXPECT_EQ(r.verdict, Verdict::kError) << r.reason;
  EXPECT_NE(r.reason.find("did not report the recorded config"), std::string::npos) << r.reason;
}

TEST_F(TrustStageTest, StartContainerChecksWhatTheContainerRuns) {
  resolver_.AddContainer(
      testing::Container("c-ok", "docker.io/library/busybox:1.36", Digest('1'), "s1", "default"));
  resolver_.AddContainer(
      testing::Container("c-ns", "docker.io/library/busybox:1.36", Digest('1'), "s2", "prod"));
  resolver_.AddContainer(
      testing::Container("c-unpinned", Digest('2'), Digest('2'), "s3", "default"));
  resolver_.AddContainer(
      testing::Container("c-gone", "docker.io/library/busybox:1.36", Digest('3'), "s4", "default"));
  StageResult r = Check(ForContainer("StartContainer", "c-ok"));
  EXPECT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  ASSERT_TRUE(state_.existing_container);
  EXPECT_EQ(state_.existing_container->pod_namespace, "default");
  ExpectDeny(Check(ForContainer("StartContainer", "c-ns")), Code::PERMISSION_DENIED,
             "pod namespace 'prod'");
  ExpectDeny(Check(ForContainer("StartContainer", "c-unpinned")), Code::PERMISSION_DENIED,
             "not a digest pinned");
  // Its image was removed since: the id it runs is all there is, and it is not pinned.
  ExpectDeny(Check(ForContainer("StartContainer", "c-gone")), Code::PERMISSION_DENIED,
             "is " + Digest('3') + ", not a digest pinned");
  ExpectDeny(Check(ForContainer("StartContainer", "c-none")), Code::NOT_FOUND,
             "container c-none does not exist");
}

TEST_F(TrustStageTest, UpdateContainerResourcesIsHeldToTheCeilings) {
  resolver_.AddContainer(
      testing::Container("c-ok", "docker.io/library/busybox:1.36", Digest('1'), "s1", "default"));
  GateRequest r = ForContainer("UpdateContainerResources", "c-ok");
  r.container = ContainerInfo{};
  r.container->resources = {100000, 40000, 0, 64 << 20};
  EXPECT_EQ(Check(r).verdict, Verdict::kAllow);
  r.container->resources.cpu_quota = 200000;
  ExpectDeny(Check(r), Code::PERMISSION_DENIED, "CPU limit 2000m");
}

TEST_F(TrustStageTest, CallsWithoutAnImageAreNotThisStagesBusiness) {
  GateRequest r;
  r.action = "StopPodSandbox";
  r.pod_sandbox_id = "s1";
  StageResult result = Check(r);
  EXPECT_EQ(result.verdict, Verdict::kAllow);
  EXPECT_EQ(result.reason, "StopPodSandbox names no image");
}

}  // namespace
}  // namespace crigate::policy
