// The walk-arounds found when crigate was attacked from outside, one test
// each, against the real crigate in front of real containerd and runc. Every
// "nothing happened" is asked of containerd directly, on its own socket.
//
//   1  a method path without its leading slash
//   2  containerd's own API (namespaces) on the gate's socket
//   3  mutating CRI calls that are not gated (ExecSync, RemoveContainer)
//   4  CreateContainer judged on the caller's copy of sandbox_config
//   5  the CreateContainer replay key chosen by the caller
//   6  token uses forgotten on kill -9
//   7  the token stored in containerd
//   8  a field with the wrong wire type read as its default
//   9  a token used up by a call that never ran (audit failure, oversize)
//  10  StartContainer judged by the first tag instead of the created reference
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cri_subset.grpc.pb.h"
#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using json = nlohmann::json;
using Code = grpc::StatusCode;
using namespace std::chrono_literals;

constexpr char kWalkNode[] = "walk-node";

// The pause image starts sandboxes, with host networking, in any namespace.
// busybox:1.35 runs in "default", host networking allowed. busybox:latest
// (the same content) runs in "default" without host networking.
constexpr char kTrustStore[] = R"(
[[rule]]
name = "sandbox"
image = "registry.k8s.io/pause:3.6"
actions = ["RunPodSandbox"]
allow_host_network = true

[[rule]]
name = "busybox"
image = "docker.io/library/busybox:1.35"
namespaces = ["default"]
allow_host_network = true

[[rule]]
name = "busybox-latest"
image = "docker.io/library/busybox:latest"
namespaces = ["default"]
)";

// The last decision record whose field `key` equals value (a string), or
// whose method is value when key is "method".
json LastAudit(const CrigateProcess& gate, const std::function<bool(const json&)>& about) {
  json found;
  for (const json& r : AuditRecords(gate)) {
    if (r.value("type", "") == "decision" && about(r)) found = r;
  }
  return found;
}

std::function<bool(const json&)> ByMethod(const std::string& method) {
  return [method](const json& r) { return r.value("method", "") == method; };
}

std::function<bool(const json&)> ByActionAndPod(const std::string& action,
                                                const std::string& pod_uid) {
  return [action, pod_uid](const json& r) {
    return r.value("action", "") == action && r.contains("pod") &&
           r["pod"].value("uid", "") == pod_uid;
  };
}

std::function<bool(const json&)> ByActionAndContainerId(const std::string& action,
                                                        const std::string& id) {
  return [action, id](const json& r) {
    return r.value("action", "") == action && r.value("container_id", "") == id;
  };
}

void ExpectDenied(const json& record, const char* code, const std::string& reason) {
  ASSERT_FALSE(record.is_null()) << "no audit record for the refused call";
  EXPECT_EQ(record.value("decision", ""), "deny") << record.dump();
  EXPECT_EQ(record.value("code", ""), code) << record.dump();
  EXPECT_NE(record.value("reason", "").find(reason), std::string::npos) << record.dump();
}

void ExpectStatus(const grpc::Status& s, Code code, const std::string& fragment) {
  EXPECT_EQ(s.error_code(), code) << StatusCodeName(s.error_code()) << ": " << s.error_message();
  EXPECT_NE(s.error_message().find(fragment), std::string::npos) << s.error_message();
}

class WalkaroundE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    struct stat st;
    if (stat(ContainerdSocket().c_str(), &st) != 0) {
      setup_error_ = "containerd is not running at " + ContainerdSocket() +
                     ": start it with scripts/containerd-up.sh (scripts/test.sh does)";
      return;
    }
    dir_ = new std::string(ScratchDir());
    Ran keygen = RunProgram(
        {CrigateBinary(), "token", "keygen", "--type", "ed25519", "--out", *dir_ + "/ops"});
    if (keygen.code != 0) {
      setup_error_ = "token keygen failed: " + keygen.err;
      return;
    }
    WriteFile(*dir_ + "/trust.toml", kTrustStore);
    gate_ = new CrigateProcess(GateOptions());
    if (!gate_->WaitReady()) setup_error_ = "crigate did not start: " + gate_->Log();
  }

  static void TearDownTestSuite() {
    delete gate_;
    delete dir_;
    gate_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  void TearDown() override { RemoveFromContainerd(containers_, pods_); }

  // Privilege (root only), facts, trust and token; no cloud.
  static CrigateProcess::Options GateOptions() {
    CrigateProcess::Options o;
    o.server_extra = "socket_mode = \"0666\"";
    o.policy = "[node]\nid = \"" + std::string(kWalkNode) + "\"\n";
    o.policy += "[privilege]\nsuper_uids = [0]\n";
    o.policy += "[trust]\nstore = \"" + *dir_ + "/trust.toml\"\n";
    o.policy += "sandbox_image = \"" + std::string(kPause) + "\"\n";
    o.policy += "[token]\nkeys = [\"" + *dir_ + "/ops.pub\"]\n";
    return o;
  }

  static std::string Issue(const std::string& act, const std::string& img) {
    Ran issued =
        RunProgram({CrigateBinary(), "token", "issue", "--key", *dir_ + "/ops.key", "--sub", "walk",
                    "--act", act, "--node", kWalkNode, "--ttl", "300s", "--img", img});
    EXPECT_EQ(issued.code, 0) << issued.err;
    return Trim(issued.out);
  }

  static std::string PodToken() {
    return Issue("RunPodSandbox,CreateContainer,StartContainer", kBusybox);
  }

  v1::PodSandboxConfig Pod(const std::string& name, const std::string& token = "") {
    v1::PodSandboxConfig pod = HostNetworkPod(name, *dir_);
    if (!token.empty()) (*pod.mutable_annotations())[kToken] = token;
    return pod;
  }

  // A pod sandbox made straight in containerd, around the gate.
  std::string DirectPod(const v1::PodSandboxConfig& pod) {
    CriClient direct(ContainerdSocket());
    std::string id;
    grpc::Status s = direct.RunPodSandbox(pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!id.empty()) pods_.push_back(id);
    return id;
  }

  std::string DirectContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod,
                              const std::string& name, const std::string& image) {
    CriClient direct(ContainerdSocket());
    std::string id;
    grpc::Status s =
        direct.CreateContainer(pod_id, Container(name, image, {"sleep", "3600"}), pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!id.empty()) containers_.push_back(id);
    return id;
  }

  std::string GatedPod(CriClient& cri, const v1::PodSandboxConfig& pod) {
    std::string id;
    grpc::Status s = cri.RunPodSandbox(pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!id.empty()) pods_.push_back(id);
    return id;
  }

  static inline std::string setup_error_;
  static inline std::string* dir_ = nullptr;
  static inline CrigateProcess* gate_ = nullptr;
  std::vector<std::string> pods_, containers_;
};

// 1. grpc-go routes "runtime.v1.RuntimeService/RunPodSandbox" to the real
// handler; crigate must neither forward it nor let it past unjudged.
TEST_F(WalkaroundE2E, APathWithoutItsLeadingSlashIsNotServed) {
  for (const char* path :
       {"runtime.v1.RuntimeService/RunPodSandbox", "//runtime.v1.RuntimeService/RunPodSandbox",
        "/runtime.v1.RuntimeService/RunPodSandbox/"}) {
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = Pod("no-slash");
    const std::string uid = request.config().metadata().uid();
    for (uid_t as : {kNobody, uid_t{0}}) {
      auto [code, message] = ProbeRawAs(as, as == 0 ? 0 : kNogroup, gate_->socket(), path,
                                        request.SerializeAsString());
      EXPECT_EQ(code, static_cast<int>(Code::UNIMPLEMENTED))
          << path << " as " << as << ": " << message;
      EXPECT_NE(message.find("is not served"), std::string::npos) << message;
    }
    EXPECT_FALSE(ContainerdHasPod(uid)) << path << " reached containerd";
    ExpectDenied(LastAudit(*gate_, ByMethod(path)), "UNIMPLEMENTED", "is not served");
  }
}

// 2. containerd serves its whole API on the socket crigate forwards to.
TEST_F(WalkaroundE2E, ContainerdsOwnApiIsNotServed) {
  const std::string path = "/containerd.services.namespaces.v1.Namespaces/Create";
  const std::string name = "crigate-walk-" + std::to_string(getpid());
  // CreateNamespaceRequest{namespace: Namespace{name}}: field 1 inside field 1.
  std::string inner = std::string("\x0a", 1) + static_cast<char>(name.size()) + name;
  std::string request = std::string("\x0a", 1) + static_cast<char>(inner.size()) + inner;
  for (uid_t as : {kNobody, uid_t{0}}) {
    auto [code, message] = ProbeRawAs(as, as == 0 ? 0 : kNogroup, gate_->socket(), path, request);
    EXPECT_EQ(code, static_cast<int>(Code::UNIMPLEMENTED)) << message;
  }
  Ran listed =
      RunProgram({"/usr/bin/ctr", "--address", ContainerdSocket(), "namespaces", "ls", "-q"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.out.find("k8s.io"), std::string::npos)
      << "ctr did not list containerd's namespaces";
  EXPECT_EQ(listed.out.find(name), std::string::npos)
      << "the namespace was created: " << listed.out;
  ExpectDenied(LastAudit(*gate_, ByMethod(path)), "UNIMPLEMENTED", "is not served");
}

// 3. Not gated is not open: every mutating call needs a super user.
TEST_F(WalkaroundE2E, MutatingCallsThatAreNotGatedStillNeedASuperUser) {
  v1::PodSandboxConfig pod = Pod("someone-elses");
  std::string pod_id = DirectPod(pod);
  std::string id = DirectContainer(pod_id, pod, "victim", kBusybox);
  CriClient direct(ContainerdSocket());
  ASSERT_TRUE(direct.StartContainer(id).ok());

  v1::ExecSyncRequest exec;
  exec.set_container_id(id);
  exec.add_cmd("id");
  exec.set_timeout(10);
  auto [code, message] =
      ProbeRawAs(kNobody, kNogroup, gate_->socket(), "/runtime.v1.RuntimeService/ExecSync",
                 exec.SerializeAsString());
  EXPECT_EQ(code, static_cast<int>(Code::PERMISSION_DENIED)) << message;
  EXPECT_NE(message.find("uid 65534"), std::string::npos) << message;
  ExpectDenied(LastAudit(*gate_, ByActionAndContainerId("ExecSync", id)), "PERMISSION_DENIED",
               "not a configured super user");

  v1::RemoveContainerRequest remove;
  remove.set_container_id(id);
  std::tie(code, message) =
      ProbeRawAs(kNobody, kNogroup, gate_->socket(), "/runtime.v1.RuntimeService/RemoveContainer",
                 remove.SerializeAsString());
  EXPECT_EQ(code, static_cast<int>(Code::PERMISSION_DENIED)) << message;
  EXPECT_TRUE(ContainerdHasContainer(pod_id, "victim")) << "the container was removed";

  // A super user still gets through, and the call is audited.
  CriClient cri(gate_->socket());
  v1::ExecSyncResponse out;
  grpc::Status s = cri.ExecSync(id, {"echo", "root may"}, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.stdout(), "root may\n");
  json allowed = LastAudit(*gate_, ByActionAndContainerId("ExecSync", id));
  EXPECT_EQ(allowed.value("decision", ""), "allow") << allowed.dump();
}

// 4. The container runs in the real sandbox behind pod_sandbox_id, whatever
// the request's own sandbox_config says.
TEST_F(WalkaroundE2E, CreateContainerIsJudgedInTheRealSandbox) {
  CriClient cri(gate_->socket());
  cri.SetMetadata({{"authorization", "Bearer " + Issue("CreateContainer", kBusyboxLatest)}});

  // A host-network pod; busybox:latest may not use the host network.
  v1::PodSandboxConfig host_pod = Pod("real-host-net");
  std::string host_id = DirectPod(host_pod);
  v1::PodSandboxConfig lie = host_pod;
  lie.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      v1::POD);
  std::string id;
  grpc::Status s =
      cri.CreateContainer(host_id, Container("escape", kBusyboxLatest, {"sleep", "60"}), lie, &id);
  if (!id.empty()) containers_.push_back(id);
  ExpectStatus(s, Code::INVALID_ARGUMENT,
               "linux.security_context.namespace_options.network is not host in the request but "
               "NODE (host) in containerd");
  EXPECT_FALSE(ContainerdHasContainer(host_id, "escape"));
  ExpectDenied(LastAudit(*gate_, ByActionAndPod("CreateContainer", host_pod.metadata().uid())),
               "INVALID_ARGUMENT", "disagrees with pod sandbox");
  // Told the truth, the trust rule decides on the host network.
  s = cri.CreateContainer(host_id, Container("escape", kBusyboxLatest, {"sleep", "60"}), host_pod,
                          &id);
  if (!id.empty()) containers_.push_back(id);
  ExpectStatus(s, Code::PERMISSION_DENIED, "host network");
  EXPECT_FALSE(ContainerdHasContainer(host_id, "escape"));

  // A pod in a namespace no busybox rule allows, claimed to be in "default".
  cri.SetMetadata({{"authorization", "Bearer " + Issue("CreateContainer", kBusybox)}});
  v1::PodSandboxConfig system_pod = Pod("real-kube-system");
  system_pod.mutable_metadata()->set_namespace_("kube-system");
  std::string system_id = DirectPod(system_pod);
  v1::PodSandboxConfig claimed = system_pod;
  claimed.mutable_metadata()->set_namespace_("default");
  s = cri.CreateContainer(system_id, Container("sneak", kBusybox, {"sleep", "60"}), claimed, &id);
  if (!id.empty()) containers_.push_back(id);
  ExpectStatus(
      s, Code::INVALID_ARGUMENT,
      "metadata.namespace is \"default\" in the request but \"kube-system\" in containerd");
  s = cri.CreateContainer(system_id, Container("sneak", kBusybox, {"sleep", "60"}), system_pod,
                          &id);
  if (!id.empty()) containers_.push_back(id);
  ExpectStatus(s, Code::PERMISSION_DENIED, "kube-system");
  EXPECT_FALSE(ContainerdHasContainer(system_id, "sneak"));
}

// 5. One token, one container: the replay key is what containerd names the
// container by, not the caller's uid or id spelling.
TEST_F(WalkaroundE2E, ATokenCreatesAContainerOnceWhateverTheCallerClaims) {
  CriClient cri(gate_->socket());
  v1::PodSandboxConfig pod = Pod("one-container", PodToken());
  std::string pod_id = GatedPod(cri, pod);
  ASSERT_FALSE(pod_id.empty());
  auto config = Container("app", kBusybox, {"sleep", "3600"});
  std::string id;
  ASSERT_TRUE(cri.CreateContainer(pod_id, config, pod, &id).ok());
  CriClient direct(ContainerdSocket());
  ASSERT_TRUE(direct.RemoveContainer(id).ok());  // the name is free again in containerd

  std::string second;
  grpc::Status s = cri.CreateContainer(pod_id.substr(0, 12), config, pod, &second);
  if (!second.empty()) containers_.push_back(second);
  ExpectStatus(s, Code::UNAUTHENTICATED,
               "was already used for CreateContainer on container:" + pod_id);

  v1::PodSandboxConfig other_uid = pod;
  other_uid.mutable_metadata()->set_uid("a-uid-of-my-own");
  s = cri.CreateContainer(pod_id, config, other_uid, &second);
  if (!second.empty()) containers_.push_back(second);
  ExpectStatus(s, Code::INVALID_ARGUMENT, "metadata.uid is \"a-uid-of-my-own\"");
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "app")) << "a second container was created";
}

// 6. A used token stays used across kill -9.
TEST_F(WalkaroundE2E, TokenUsesSurviveKillMinus9) {
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  const std::string token = PodToken();
  {
    CriClient cri(gate.socket());
    ASSERT_FALSE(GatedPod(cri, Pod("before-crash", token)).empty());
  }
  gate.Kill();
  gate.Restart();
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  v1::PodSandboxConfig again = Pod("after-crash", token);
  std::string id;
  grpc::Status s = cri.RunPodSandbox(again, &id);
  if (!id.empty()) pods_.push_back(id);
  ExpectStatus(s, Code::UNAUTHENTICATED, "was already used for RunPodSandbox");
  EXPECT_FALSE(ContainerdHasPod(again.metadata().uid()));
}

// 7. The token is the gate's: containerd never holds it, so no reader of a
// pod's or container's status finds it. Fields the gate does not know still
// arrive.
TEST_F(WalkaroundE2E, TokensNeverReachContainerd) {
  CriClient cri(gate_->socket());
  const std::string token = PodToken();
  v1::RunPodSandboxRequest request;
  *request.mutable_config() = Pod("token-free", token);
  // PodSandboxConfig.dns_config (4) { servers (1) }: unknown to the subset.
  const std::string server = "192.0.2.53";
  request.mutable_config()
      ->GetReflection()
      ->MutableUnknownFields(request.mutable_config())
      ->AddLengthDelimited(4, std::string("\x0a", 1) + static_cast<char>(server.size()) + server);
  std::string answer;
  grpc::Status s =
      cri.RawCall("/runtime.v1.RuntimeService/RunPodSandbox", request.SerializeAsString(), &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RunPodSandboxResponse ran;
  ASSERT_TRUE(ran.ParseFromString(answer));
  pods_.push_back(ran.pod_sandbox_id());

  CriClient direct(ContainerdSocket());
  auto stub = v1::RuntimeService::NewStub(direct.channel());
  grpc::ClientContext ctx;
  v1::PodSandboxStatusRequest status_request;
  status_request.set_pod_sandbox_id(ran.pod_sandbox_id());
  status_request.set_verbose(true);
  v1::PodSandboxStatusResponse status;
  ASSERT_TRUE(stub->PodSandboxStatus(&ctx, status_request, &status).ok());
  EXPECT_EQ(status.status().annotations().count(kToken), 0u);
  EXPECT_EQ(status.DebugString().find(token), std::string::npos) << "containerd holds the token";
  EXPECT_NE(status.info().at("info").find(server), std::string::npos)
      << "the unknown field did not survive the re-encoding: " << status.info().at("info");

  // The container's own annotation too; and StartContainer, which names only
  // the id, still finds the token the gate kept.
  v1::ContainerConfig config = Container("app", kBusybox, {"sleep", "3600"});
  (*config.mutable_annotations())[kToken] = token;
  std::string id;
  ASSERT_TRUE(cri.CreateContainer(ran.pod_sandbox_id(), config, request.config(), &id).ok());
  containers_.push_back(id);
  v1::ContainerStatusResponse container;
  ASSERT_TRUE(direct.ContainerStatus(id, &container, true).ok());
  EXPECT_EQ(container.DebugString().find(token), std::string::npos) << "containerd holds the token";
  s = cri.StartContainer(id);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// 8. privileged sent length-delimited: the parser would set it aside and the
// gate read "not privileged". A malformed request instead.
TEST_F(WalkaroundE2E, AFieldWithTheWrongWireTypeIsRefused) {
  CriClient cri(gate_->socket());
  cri.SetMetadata({{"authorization", "Bearer " + Issue("CreateContainer", kBusybox)}});
  v1::PodSandboxConfig pod = Pod("mistyped");
  std::string pod_id = DirectPod(pod);
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod_id);
  *request.mutable_config() = Container("root-me", kBusybox, {"sleep", "60"});
  *request.mutable_sandbox_config() = pod;
  auto* security = request.mutable_config()->mutable_linux()->mutable_security_context();
  security->GetReflection()->MutableUnknownFields(security)->AddLengthDelimited(2, "\x01");
  std::string id;
  grpc::Status s = cri.CreateContainer(request, &id);
  if (!id.empty()) containers_.push_back(id);
  ExpectStatus(s, Code::INVALID_ARGUMENT,
               "field config.linux.security_context.privileged arrived with the wrong wire type");
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "root-me"));
  ExpectDenied(LastAudit(*gate_,
                         [](const json& r) {
                           return r.value("action", "") == "CreateContainer" &&
                                  r.value("reason", "").find("wrong wire type") !=
                                      std::string::npos;
                         }),
               "INVALID_ARGUMENT", "config.linux.security_context.privileged");
}

// 9a. No audit line, no call, no token used up.
TEST_F(WalkaroundE2E, ACallRefusedForWantOfAnAuditLineUsesNoToken) {
  const std::string mnt = *dir_ + "/full-audit";
  mkdir(mnt.c_str(), 0700);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << "): needs root";
  }
  struct Unmount {
    std::string at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{mnt};
  CrigateProcess::Options options = GateOptions();
  options.audit_path = mnt + "/audit.jsonl";
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  // Fill the file system: the next audit line cannot be written.
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    std::string block(4096, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  const std::string token = PodToken();
  CriClient cri(gate.socket());
  v1::PodSandboxConfig pod = Pod("unaudited", token);
  std::string id;
  grpc::Status s = cri.RunPodSandbox(pod, &id);
  if (!id.empty()) pods_.push_back(id);
  ExpectStatus(s, Code::UNAVAILABLE, "no decision without an audit record");
  EXPECT_FALSE(ContainerdHasPod(pod.metadata().uid()));

  unlink((mnt + "/filler").c_str());
  s = cri.RunPodSandbox(pod, &id);
  if (!id.empty()) pods_.push_back(id);
  EXPECT_TRUE(s.ok()) << "the refused call used the token up: " << s.error_message();
  EXPECT_TRUE(ContainerdHasPod(pod.metadata().uid()));
}

// 9b. Over containerd's message limit: refused by the gate, audited, and the
// token is still good for a request containerd can take.
TEST_F(WalkaroundE2E, AnOversizedRequestIsRefusedBeforeItUsesItsToken) {
  const std::string token = PodToken();
  CriClient cri(gate_->socket());
  v1::PodSandboxConfig pod = Pod("oversized", token);
  v1::PodSandboxConfig big = pod;
  (*big.mutable_annotations())["filler"] = std::string(20 << 20, 'x');
  std::string id;
  grpc::Status s = cri.RunPodSandbox(big, &id);
  if (!id.empty()) pods_.push_back(id);
  ExpectStatus(s, Code::RESOURCE_EXHAUSTED, "more than server.max_message_bytes (16777216");
  EXPECT_FALSE(ContainerdHasPod(pod.metadata().uid()));
  ExpectDenied(
      LastAudit(*gate_, [](const json& r) { return r.value("code", "") == "RESOURCE_EXHAUSTED"; }),
      "RESOURCE_EXHAUSTED", "max_message_bytes");

  s = cri.RunPodSandbox(pod, &id);
  if (!id.empty()) pods_.push_back(id);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// 10. A container created around the gate from busybox:latest. containerd's
// status names it by the image's first tag (busybox:1.35, trusted with host
// networking); the gate judges the reference it was created with.
TEST_F(WalkaroundE2E, StartContainerJudgesTheImageTheContainerWasCreatedWith) {
  v1::PodSandboxConfig pod = Pod("created-around");
  std::string pod_id = DirectPod(pod);
  std::string id = DirectContainer(pod_id, pod, "latest", kBusyboxLatest);
  CriClient direct(ContainerdSocket());
  v1::ContainerStatusResponse before;
  ASSERT_TRUE(direct.ContainerStatus(id, &before).ok());
  ASSERT_EQ(before.status().image().image(), kBusybox)
      << "containerd no longer reports the first tag; the test's premise changed";

  CriClient cri(gate_->socket());
  cri.SetMetadata({{"authorization", "Bearer " + Issue("StartContainer", kBusyboxLatest)}});
  grpc::Status s = cri.StartContainer(id);
  ExpectStatus(s, Code::PERMISSION_DENIED, "docker.io/library/busybox:latest");
  EXPECT_NE(s.error_message().find("host network"), std::string::npos) << s.error_message();
  v1::ContainerStatusResponse after;
  ASSERT_TRUE(direct.ContainerStatus(id, &after).ok());
  EXPECT_EQ(after.status().state(), v1::CONTAINER_CREATED) << "the container was started";
  ExpectDenied(LastAudit(*gate_, ByActionAndContainerId("StartContainer", id)), "PERMISSION_DENIED",
               "busybox:latest");
}

}  // namespace
}  // namespace crigate::test
