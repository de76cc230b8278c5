#include "policy/facts_stage.h"

#include <gtest/gtest.h>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

class FactsStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExistingSandbox real = testing::Sandbox(kSandbox, "web", "shop", "uid-1");
    real.pod.labels = {{"app", "web"}, {"io.kubernetes.pod.namespace", "shop"}};
    resolver_.AddSandbox(real);
  }

  // A CreateContainer whose sandbox_config agrees with the real sandbox.
  static GateRequest Create() {
    GateRequest r;
    r.action = "CreateContainer";
    r.pod_sandbox_id = kSandbox.substr(0, 8);
    r.container = ContainerInfo{};
    r.container->name = "app";
    r.pod = PodInfo{};
    r.pod->name = "web";
    r.pod->namespace_ = "shop";
    r.pod->uid = "uid-1";
    r.pod->labels = {{"app", "web"}, {"io.kubernetes.pod.namespace", "shop"}};
    return r;
  }

  StageResult Check(const GateRequest& r) {
    state_ = CallState{};
    return stage_.Check(r, state_);
  }

  void ExpectDeny(const GateRequest& r, Code code, const std::string& fragment) {
    StageResult result = Check(r);
    EXPECT_EQ(result.verdict, Verdict::kDeny) << result.reason;
    EXPECT_EQ(result.code, code) << result.reason;
    EXPECT_NE(result.reason.find(fragment), std::string::npos) << result.reason;
  }

  static inline const std::string kSandbox = std::string(64, 'a');
  testing::FakeResolver resolver_;
  FactsStage stage_{resolver_};
  CallState state_;
};

TEST_F(FactsStageTest, CreateContainerKeepsTheRealSandboxForTheStagesAfter) {
  StageResult r = Check(Create());
  ASSERT_EQ(r.verdict, Verdict::kAllow) << r.reason;
  ASSERT_TRUE(state_.sandbox);
  EXPECT_EQ(state_.sandbox->id, kSandbox);  // the full id, though the call named a prefix
  EXPECT_EQ(state_.sandbox->pod.namespace_, "shop");
}

TEST_F(FactsStageTest, EachDisagreeingFieldIsNamed) {
  struct Case {
    void (*lie)(GateRequest&);
    std::string fragment;
  };
  const Case cases[] = {
      {[](GateRequest& r) { r.pod->namespace_ = "default"; },
       "metadata.namespace is \"default\" in the request but \"shop\" in containerd"},
      {[](GateRequest& r) { r.pod->name = "other"; }, "metadata.name is \"other\""},
      {[](GateRequest& r) { r.pod->uid = "uid-2"; }, "metadata.uid is \"uid-2\""},
      {[](GateRequest& r) { r.pod->attempt = 3; }, "metadata.attempt is 3 in the request but 0"},
      {[](GateRequest& r) { r.pod->labels["io.kubernetes.pod.namespace"] = "default"; },
       "labels[\"io.kubernetes.pod.namespace\"] is \"default\""},
      {[](GateRequest& r) { r.pod->labels.clear(); },
       "labels[\"io.kubernetes.pod.namespace\"] is missing in the request"},
      {[](GateRequest& r) { r.pod->labels["io.kubernetes.pod.name"] = "other"; },
       "labels[\"io.kubernetes.pod.name\"] is \"other\" in the request but not set in containerd"},
      {[](GateRequest& r) { r.pod->privileged = true; },
       "linux.security_context.privileged is true in the request but false"},
  };
  for (const Case& c : cases) {
    GateRequest r = Create();
    c.lie(r);
    ExpectDeny(r, Code::INVALID_ARGUMENT, c.fragment);
    ExpectDeny(r, Code::INVALID_ARGUMENT, "disagrees with pod sandbox aaaaaaaaaaaa");
  }
}

TEST_F(FactsStageTest, OtherLabelsMayChangeAfterThePodStarted) {
  // kubectl label: kubelet sends the pod's new labels, containerd keeps the old.
  GateRequest r = Create();
  r.pod->labels["app"] = "web-v2";
  r.pod->labels["tier"] = "front";
  EXPECT_EQ(Check(r).verdict, Verdict::kAllow);
}

TEST_F(FactsStageTest, AClaimOfPodNetworkingForAHostNetworkPodIsDenied) {
  ExistingSandbox host = testing::Sandbox(std::string(64, 'h'), "web", "shop", "uid-1");
  host.pod.host.host_network = true;
  resolver_.AddSandbox(host);
  GateRequest r = Create();
  r.pod_sandbox_id = host.id;
  r.pod->labels.clear();
  ExpectDeny(r, Code::INVALID_ARGUMENT,
             "linux.security_context.namespace_options.network is not host in the request but "
             "NODE (host) in containerd");
}

TEST_F(FactsStageTest, MissingSandboxAndMissingConfigAreDenied) {
  GateRequest r = Create();
  r.pod_sandbox_id = "ffff";
  ExpectDeny(r, Code::NOT_FOUND, "pod sandbox ffff does not exist");
  r.pod_sandbox_id.clear();
  ExpectDeny(r, Code::INVALID_ARGUMENT, "CreateContainer names no pod_sandbox_id");
  r = Create();
  r.pod.reset();
  ExpectDeny(r, Code::INVALID_ARGUMENT, "carries no sandbox_config");
}

TEST_F(FactsStageTest, ABackendThatCannotAnswerIsAnError) {
  resolver_.FailWith(Fail(Code::UNAVAILABLE, "containerd down"));
  StageResult r = Check(Create());
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_NE(r.reason.find("containerd down"), std::string::npos) << r.reason;
}

TEST_F(FactsStageTest, ContainerIdCallsLookTheContainerUp) {
  resolver_.AddContainer(
      testing::Container("c1", "busybox", testing::Digest('1'), kSandbox, "shop"));
  GateRequest start;
  start.action = "StartContainer";
  start.container_id = "c1";
  ASSERT_EQ(Check(start).verdict, Verdict::kAllow);
  ASSERT_TRUE(state_.existing_container);
  EXPECT_EQ(state_.existing_container->pod_sandbox_id, kSandbox);
  start.container_id = "c2";
  ExpectDeny(start, Code::NOT_FOUND, "container c2 does not exist");
}

// containerd's spec for a container created with `command: [sleep, 60]`, a
// hostPath /srv/data at /data, in a pod whose pause process is pid 42.
ExistingContainer WithSpec(const std::string& sandbox) {
  ExistingContainer c = testing::Container("c1", "busybox", testing::Digest('1'), sandbox, "shop");
  c.config->command = {"sleep"};
  c.config->args = {"60"};
  c.config->security.mounts = {MountRequest{"/data", "/srv/data", false}};
  c.sandbox_pid = 42;
  c.cri_dirs = {"/var/lib/containerd/cri", "/run/containerd/cri"};
  c.runtime_spec = R"({"process": {"args": ["sleep", "60"],
      "capabilities": {"bounding": ["CAP_CHOWN"]}},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/etc/hosts", "type": "bind", "options": ["rbind"],
       "source": "/var/lib/containerd/cri/sandboxes/)" +
                   sandbox + R"(/hosts"},
      {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind"]}],
    "linux": {"namespaces": [{"type": "pid", "path": "/proc/42/ns/pid"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "network", "path": "/proc/42/ns/net"}]}})";
  return c;
}

TEST_F(FactsStageTest, StartContainerJudgesTheRuntimeSpecAndKeepsItsDigest) {
  resolver_.AddContainer(WithSpec(kSandbox));
  GateRequest start;
  start.action = "StartContainer";
  start.container_id = "c1";
  const StageResult result = Check(start);
  ASSERT_EQ(result.verdict, Verdict::kAllow) << result.reason;
  EXPECT_EQ(state_.spec_digest.rfind("sha256:", 0), 0u);
  EXPECT_NE(result.reason.find("runtime spec sha256:"), std::string::npos) << result.reason;
}

TEST_F(FactsStageTest, ASpecThatGoesBeyondItsConfigIsDenied) {
  GateRequest start;
  start.action = "StartContainer";
  start.container_id = "c1";
  const std::pair<std::string, std::string> beyond[] = {
      // another command than the recorded config's
      {R"("args": ["sleep", "60"])", R"("args": ["sh", "-c", "id"])"},
      // the host's /etc in place of the approved hostPath
      {R"("source": "/srv/data")", R"("source": "/etc")"},
      // the host's pid namespace, or the pid namespace of pid 1
      {R"({"type": "pid", "path": "/proc/42/ns/pid"}, )", ""},
      {R"("/proc/42/ns/pid")", R"("/proc/1/ns/pid")"},
      // a capability the config did not add
      {R"(["CAP_CHOWN"])", R"(["CAP_SYS_ADMIN"])"},
      // a hook that would run on the host
      {R"("root": {"path": "rootfs"},)",
       R"("root": {"path": "rootfs"}, "hooks": {"prestart": [{"path": "/bin/sh"}]},)"},
  };
  for (const auto& [from, to] : beyond) {
    resolver_ = testing::FakeResolver();
    ExistingContainer c = WithSpec(kSandbox);
    const size_t at = c.runtime_spec.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    c.runtime_spec.replace(at, from.size(), to);
    resolver_.AddContainer(c);
    ExpectDeny(start, Code::PERMISSION_DENIED, "goes beyond its CRI config");
    EXPECT_TRUE(state_.spec_digest.empty());
  }
}

TEST_F(FactsStageTest, OtherCallsLookNothingUp) {
  GateRequest pull;
  pull.action = "PullImage";
  EXPECT_EQ(Check(pull).verdict, Verdict::kAllow);
  EXPECT_EQ(resolver_.sandbox_calls + resolver_.container_calls, 0);
}

}  // namespace
}  // namespace crigate::policy
