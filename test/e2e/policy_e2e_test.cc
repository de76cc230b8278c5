// The policy pipeline end to end: the real crigate in front of real
// containerd and runc, keys and tokens made with crigate's own CLI, the
// reference cloud authorizer (test/authz/crigate-authz.py) as the cloud. A
// trusted image with a valid token and an allowing cloud runs; every refusal
// comes back with its gRPC code and reason, leaves containerd untouched, and
// is on the audit record with the stage that refused it.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/base/base64url.h"
#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Code = grpc::StatusCode;

constexpr char kPolicyNode[] = "pe-node";
// A well-formed digest that no image on the node has.
constexpr char kWrongDigest[] =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr int kCloudTimeoutMs = 500;

// A token signed by the real Ed25519 key but built here, with OpenSSL
// directly: the CLI cannot mint a token that is already expired.
std::string SignEd25519Token(const std::string& private_key_pem_path, const std::string& kid,
                             const json& claims) {
  FILE* f = fopen(private_key_pem_path.c_str(), "r");
  if (!f) return "";
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (!key) return "";
  const json header = {{"alg", "EdDSA"}, {"kid", kid}, {"typ", "JWT"}};
  const std::string input =
      base::Base64UrlEncode(header.dump()) + "." + base::Base64UrlEncode(claims.dump());
  std::string signature(64, '\0');
  size_t length = signature.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return "";
  signature.resize(length);
  return input + "." + base::Base64UrlEncode(signature);
}

// The last decision about action that matches about; null when none.
json FindAudit(const CrigateProcess& gate, const std::string& action,
               const std::function<bool(const json&)>& about) {
  json found;
  for (const json& r : AuditRecords(gate)) {
    if (r.value("type", "") == "decision" && r.value("action", "") == action && about(r)) found = r;
  }
  return found;
}

std::function<bool(const json&)> PodUid(const std::string& uid) {
  return [uid](const json& r) { return r.contains("pod") && r["pod"].value("uid", "") == uid; };
}

std::function<bool(const json&)> ContainerIn(const std::string& pod_uid, const std::string& name) {
  return [pod_uid, name](const json& r) {
    return PodUid(pod_uid)(r) && r.value("container", "") == name;
  };
}

// The audit record says: denied, with code, by stage (the last that ran),
// for a reason that contains reason.
void ExpectAuditedDenial(const json& record, const std::string& stage, const char* code,
                         const std::string& reason) {
  ASSERT_FALSE(record.is_null()) << "no audit record for the denied call";
  EXPECT_EQ(record.value("decision", ""), "deny") << record.dump();
  EXPECT_EQ(record.value("code", ""), code) << record.dump();
  EXPECT_NE(record.value("reason", "").find(reason), std::string::npos) << record.dump();
  ASSERT_TRUE(record["stages"].is_array() && !record["stages"].empty()) << record.dump();
  const json& last = record["stages"].back();
  EXPECT_EQ(last.value("stage", ""), stage) << record.dump();
  EXPECT_NE(last.value("verdict", ""), "allow") << record.dump();
  for (size_t i = 0; i + 1 < record["stages"].size(); ++i) {
    EXPECT_EQ(record["stages"][i].value("verdict", ""), "allow") << record.dump();
  }
}

size_t CountInLog(const CrigateProcess& gate, const std::string& text) {
  std::string log = gate.Log();
  size_t count = 0;
  for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
  return count;
}

// Waits up to 10 s for text to occur more than `already` times in the log.
bool WaitForLog(const CrigateProcess& gate, const std::string& text, size_t already) {
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms)) {
    if (CountInLog(gate, text) > already) return true;
  }
  return false;
}

// The pause image may start sandboxes with host networking in any namespace;
// busybox:1.35 may run in "default"; busybox:latest is pinned to a digest the
// node's copy does not have. Everything else matches no rule.
std::string TrustStore(bool trust_busybox) {
  std::string store = R"(
[[rule]]
name = "sandbox"
image = "registry.k8s.io/pause:3.6"
actions = ["RunPodSandbox"]
allow_host_network = true

[[rule]]
name = "busybox-latest-pinned"
image = "docker.io/library/busybox:latest"
namespaces = ["default"]
allow_host_network = true
)";
  store += "digests = [\"" + std::string(kWrongDigest) + "\"]\n";
  if (trust_busybox) {
    store += R"(
[[rule]]
name = "busybox"
image = "docker.io/library/busybox:1.35"
namespaces = ["default"]
allow_host_network = true
)";
  }
  return store;
}

// The cloud: by pod name, a refusal, a slow answer, garbage; everything else
// that the gate asks about is allowed.
constexpr char kCloudRules[] = R"(
default = { allow = false, reason = "no rule matched" }

[[rules]]
pod = "cloud-no-*"
allow = false
reason = "the fleet does not run this pod on this node"

[[rules]]
pod = "cloud-slow-*"
allow = true
reason = "allowed, but too late"
delay_ms = 3000

[[rules]]
pod = "cloud-garbage-*"
garbage = true

[[rules]]
action = ["RunPodSandbox", "CreateContainer", "StartContainer", "PullImage", "RemoveImage"]
allow = true
reason = "the fleet allows it"
)";

class PolicyE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    struct stat st;
    if (stat(ContainerdSocket().c_str(), &st) != 0) {
      setup_error_ = "containerd is not running at " + ContainerdSocket() +
                     ": start it with scripts/containerd-up.sh (scripts/test.sh does)";
      return;
    }
    dir_ = new std::string(ScratchDir());
    const std::string& d = *dir_;
    for (const char* name : {"ops", "rogue"}) {
      Ran keygen = RunProgram(
          {CrigateBinary(), "token", "keygen", "--type", "ed25519", "--out", d + "/" + name});
      if (keygen.code != 0) {
        setup_error_ = "token keygen failed: " + keygen.err;
        return;
      }
    }
    WriteFile(d + "/node.key", "pe-e2e-node-key-0123456789abcdef0123456789abcdef\n", 0600);
    WriteFile(d + "/trust.toml", TrustStore(true));
    WriteFile(d + "/cloud-rules.toml", kCloudRules);

    authz_ = new AuthzProcess(
        {d + "/cloud-rules.toml", d + "/node.key", d + "/events.jsonl", d + "/authz.log"});
    if (!authz_->WaitReady()) {
      setup_error_ = "the reference authorizer did not start: " + authz_->Log();
      return;
    }
    gate_ = new CrigateProcess(GateOptions(authz_->Url("/v1/data/crigate/allow")));
    if (!gate_->WaitReady()) setup_error_ = "crigate did not start: " + gate_->Log();
  }

  static void TearDownTestSuite() {
    delete gate_;
    delete authz_;
    delete dir_;
    gate_ = nullptr;
    authz_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  void TearDown() override { RemoveFromContainerd(containers_, pods_); }

  // Every stage on; the cloud at cloud_url with a short timeout.
  static CrigateProcess::Options GateOptions(const std::string& cloud_url) {
    const std::string& d = *dir_;
    CrigateProcess::Options o;
    o.server_extra = "socket_mode = \"0666\"";
    o.policy = "[node]\nid = \"" + std::string(kPolicyNode) + "\"\n";
    o.policy += "[privilege]\nsuper_uids = [0]\n";
    o.policy += "[trust]\nstore = \"" + d + "/trust.toml\"\n";
    o.policy += "sandbox_image = \"" + std::string(kPause) + "\"\n";
    o.policy += "[token]\nkeys = [\"" + d + "/ops.pub\"]\n";
    o.policy += "[cloud]\nenabled = true\nurl = \"" + cloud_url + "\"\n";
    o.policy += "timeout_ms = " + std::to_string(kCloudTimeoutMs) + "\n";
    o.policy += "node_key_file = \"" + d + "/node.key\"\nnode_mac = \"02:00:00:00:00:01\"\n";
    return o;
  }

  // A token from `crigate token issue`, signed with key (ops: trusted).
  static std::string Issue(const std::string& act, const std::string& img,
                           const std::string& key = "ops", const std::string& kid = "") {
    std::vector<std::string> args = {CrigateBinary(), "token", "issue", "--key",
                                     *dir_ + "/" + key + ".key"};
    args.insert(args.end(), {"--sub", "e2e", "--act", act, "--node", kPolicyNode, "--ttl", "300s"});
    if (!img.empty()) args.insert(args.end(), {"--img", img});
    if (!kid.empty()) args.insert(args.end(), {"--kid", kid});
    Ran issued = RunProgram(args);
    EXPECT_EQ(issued.code, 0) << issued.err;
    return Trim(issued.out);
  }

  // The token every allowed pod carries: it runs the pod and busybox in it.
  static std::string PodToken() {
    return Issue("RunPodSandbox,CreateContainer,StartContainer", kBusybox);
  }

  v1::PodSandboxConfig Pod(const std::string& name, const std::string& token) {
    v1::PodSandboxConfig pod = HostNetworkPod(name, *dir_);
    if (!token.empty()) (*pod.mutable_annotations())[kToken] = token;
    return pod;
  }

  // Runs pod through gate (must be allowed) and remembers it for TearDown.
  std::string RunPod(CriClient& cri, const v1::PodSandboxConfig& pod) {
    std::string id;
    grpc::Status s = cri.RunPodSandbox(pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!id.empty()) pods_.push_back(id);
    return id;
  }

  // A denied RunPodSandbox: its code and reason, nothing in containerd, and
  // the audit record naming stage. Returns how long the call took.
  std::chrono::milliseconds ExpectPodDenied(const v1::PodSandboxConfig& pod, Code code,
                                            const std::string& reason, const std::string& stage,
                                            const CrigateProcess* gate = nullptr) {
    if (!gate) gate = gate_;
    CriClient cri(gate->socket());
    std::string id;
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = cri.RunPodSandbox(pod, &id);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (!id.empty()) pods_.push_back(id);
    EXPECT_EQ(s.error_code(), code) << StatusCodeName(s.error_code()) << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(reason), std::string::npos) << s.error_message();
    EXPECT_FALSE(ContainerdHasPod(pod.metadata().uid())) << "the denied pod reached containerd";
    ExpectAuditedDenial(FindAudit(*gate, "RunPodSandbox", PodUid(pod.metadata().uid())), stage,
                        StatusCodeName(code).c_str(), reason);
    return took;
  }

  static inline std::string setup_error_;
  static inline std::string* dir_ = nullptr;
  static inline AuthzProcess* authz_ = nullptr;
  static inline CrigateProcess* gate_ = nullptr;
  std::vector<std::string> pods_, containers_;
};

TEST_F(PolicyE2E, TrustedImageWithValidTokenAndAllowingCloudRuns) {
  CriClient cri(gate_->socket());
  auto pod = Pod("allowed", PodToken());
  std::string pod_id = RunPod(cri, pod);
  ASSERT_FALSE(pod_id.empty());
  std::string id;
  grpc::Status s =
      cri.CreateContainer(pod_id, Container("web", kBusybox, {"sleep", "3600"}), pod, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  containers_.push_back(id);
  // StartContainer names only the container id: the gate kept the token the
  // container was created with (it never reached containerd).
  s = cri.StartContainer(id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ExecSyncResponse exec;
  ASSERT_TRUE(cri.ExecSync(id, {"sh", "-c", "echo gated $((6 * 7))"}, &exec).ok());
  EXPECT_EQ(exec.stdout(), "gated 42\n");
  // The checks the denials rely on see what the gate let through.
  EXPECT_TRUE(ContainerdHasPod(pod.metadata().uid()));
  EXPECT_TRUE(ContainerdHasContainer(pod_id, "web"));

  for (const char* action : {"RunPodSandbox", "CreateContainer", "StartContainer"}) {
    json record = FindAudit(*gate_, action, [&](const json& r) {
      return std::string(action) == "StartContainer" ? r.value("container_id", "") == id
                                                     : PodUid(pod.metadata().uid())(r);
    });
    ASSERT_FALSE(record.is_null()) << action;
    EXPECT_EQ(record.value("decision", ""), "allow") << record.dump();
    std::vector<std::string> stages;
    for (const auto& stage : record["stages"]) {
      stages.push_back(stage.value("stage", ""));
      EXPECT_EQ(stage.value("verdict", ""), "allow") << record.dump();
    }
    EXPECT_EQ(stages, (std::vector<std::string>{"privilege", "facts", "trust", "token", "cloud"}))
        << record.dump();
    // The cloud itself answered (its decision ids start with "authz-").
    EXPECT_EQ(record.value("decision_id", "").rfind("authz-", 0), 0u) << record.dump();
    EXPECT_EQ(record["token"].value("sub", ""), "e2e") << record.dump();
  }
}

TEST_F(PolicyE2E, UntrustedImageIsDenied) {
  CriClient cri(gate_->socket());
  auto pod = Pod("untrusted", PodToken());
  std::string pod_id = RunPod(cri, pod);
  ASSERT_FALSE(pod_id.empty());
  // The pause image is on the node, but trusted only as a sandbox.
  auto config = Container("pause-as-app", kPause, {"/pause"});
  (*config.mutable_annotations())[kToken] = Issue("CreateContainer", kPause);
  std::string id;
  grpc::Status s = cri.CreateContainer(pod_id, config, pod, &id);
  if (!id.empty()) containers_.push_back(id);
  EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("image registry.k8s.io/pause:3.6 matches no trust rule for "
                                   "CreateContainer"),
            std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "pause-as-app"));
  ExpectAuditedDenial(
      FindAudit(*gate_, "CreateContainer", ContainerIn(pod.metadata().uid(), "pause-as-app")),
      "trust", "PERMISSION_DENIED", "matches no trust rule");
}

TEST_F(PolicyE2E, UntrustedPullIsDeniedBeforeAnyRegistryIsAsked) {
  CriClient cri(gate_->socket());
  const std::string image = RegistryHost() + "/crigate/untrusted-miner:1.0";
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(image, &pulled, {{kToken, Issue("PullImage", image)}});
  EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("matches no trust rule for PullImage"), std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasImage(image));
  ExpectAuditedDenial(
      FindAudit(*gate_, "PullImage", [&](const json& r) { return r.value("image", "") == image; }),
      "trust", "PERMISSION_DENIED", "matches no trust rule");
}

TEST_F(PolicyE2E, PinnedDigestMismatchOnImageAlreadyOnTheNodeIsDenied) {
  ASSERT_TRUE(ContainerdHasImage(kBusyboxLatest)) << "scripts/import-images.sh imports it";
  CriClient cri(gate_->socket());
  auto pod = Pod("pinned", PodToken());
  std::string pod_id = RunPod(cri, pod);
  ASSERT_FALSE(pod_id.empty());
  auto config = Container("latest", kBusyboxLatest, {"sleep", "3600"});
  (*config.mutable_annotations())[kToken] = Issue("CreateContainer", kBusyboxLatest);
  std::string id;
  grpc::Status s = cri.CreateContainer(pod_id, config, pod, &id);
  if (!id.empty()) containers_.push_back(id);
  EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
  // The tag matches the rule; the digest the node holds for it does not.
  EXPECT_NE(s.error_message().find("not a digest pinned by rule 'busybox-latest-pinned'"),
            std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find(kWrongDigest), std::string::npos) << s.error_message();
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "latest"));
  ExpectAuditedDenial(
      FindAudit(*gate_, "CreateContainer", ContainerIn(pod.metadata().uid(), "latest")), "trust",
      "PERMISSION_DENIED", "not a digest pinned by rule 'busybox-latest-pinned'");
}

TEST_F(PolicyE2E, NonSuperCallerIsDenied) {
  ASSERT_TRUE(ContainerdHasImage(kBusyboxLatest));
  // uid 65534 asks to remove an image: had the call reached containerd, the
  // image would be gone.
  auto [code, message] = ProbeAs(65534, 65534, gate_->socket(), "remove-image", kBusyboxLatest);
  EXPECT_EQ(code, static_cast<int>(Code::PERMISSION_DENIED)) << message;
  EXPECT_NE(message.find("uid 65534"), std::string::npos) << message;
  EXPECT_NE(message.find("RemoveImage"), std::string::npos) << message;
  EXPECT_TRUE(ContainerdHasImage(kBusyboxLatest)) << "the denied RemoveImage reached containerd";
  json record = FindAudit(*gate_, "RemoveImage", [](const json& r) {
    return r.contains("caller") && r["caller"].value("uid", -1) == 65534;
  });
  ExpectAuditedDenial(record, "privilege", "PERMISSION_DENIED", "65534");
  EXPECT_EQ(record["caller"].value("gid", -1), 65534) << record.dump();
  EXPECT_EQ(record.value("image", ""), kBusyboxLatest) << record.dump();
}

TEST_F(PolicyE2E, MissingTokenIsDenied) {
  ExpectPodDenied(Pod("no-token", ""), Code::UNAUTHENTICATED,
                  "RunPodSandbox requires a token (annotation crigate.io/token or authorization: "
                  "Bearer) and none was given",
                  "token");
}

TEST_F(PolicyE2E, ForgedTokenIsDenied) {
  // Signed by another key, claiming to be the ops key.
  std::string forged =
      Issue("RunPodSandbox,CreateContainer,StartContainer", kBusybox, "rogue", "ops");
  ASSERT_FALSE(forged.empty());
  ExpectPodDenied(Pod("forged", forged), Code::UNAUTHENTICATED,
                  "token signature does not verify with key ops", "token");
  // Under its own name, the rogue key is simply unknown.
  std::string unknown = Issue("RunPodSandbox", kBusybox, "rogue");
  ExpectPodDenied(Pod("unknown-key", unknown), Code::UNAUTHENTICATED,
                  "token kid 'rogue' names no configured key", "token");
}

TEST_F(PolicyE2E, ExpiredTokenIsDenied) {
  const int64_t now = std::time(nullptr);
  json claims = {
      {"sub", "e2e"},      {"act", {"RunPodSandbox", "CreateContainer", "StartContainer"}},
      {"img", kBusybox},   {"node", kPolicyNode},
      {"iat", now - 7200}, {"nbf", now - 7200},
      {"exp", now - 3600}, {"jti", "expired-" + std::to_string(now)}};
  std::string expired = SignEd25519Token(*dir_ + "/ops.key", "ops", claims);
  ASSERT_FALSE(expired.empty());
  ExpectPodDenied(Pod("expired", expired), Code::UNAUTHENTICATED, "token expired at", "token");
}

TEST_F(PolicyE2E, ReplayedTokenIsDenied) {
  CriClient cri(gate_->socket());
  auto pod = Pod("replay", PodToken());
  std::string pod_id = RunPod(cri, pod);
  ASSERT_FALSE(pod_id.empty());
  // One CreateContainer token, sent as gRPC metadata, used twice for the
  // same container of the same pod.
  std::string token = Issue("CreateContainer", kBusybox);
  cri.SetMetadata({{"authorization", "Bearer " + token}});
  auto config = Container("again", kBusybox, {"sleep", "3600"});
  std::string id;
  grpc::Status s = cri.CreateContainer(pod_id, config, pod, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(ContainerdHasContainer(pod_id, "again"));
  // Gone again (removed around the gate), so the name is free in containerd.
  CriClient direct(ContainerdSocket());
  ASSERT_TRUE(direct.RemoveContainer(id).ok());
  ASSERT_FALSE(ContainerdHasContainer(pod_id, "again"));

  std::string second;
  s = cri.CreateContainer(pod_id, config, pod, &second);
  if (!second.empty()) containers_.push_back(second);
  EXPECT_EQ(s.error_code(), Code::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("was already used for CreateContainer"), std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "again")) << "the replayed call reached containerd";
  ExpectAuditedDenial(
      FindAudit(*gate_, "CreateContainer", ContainerIn(pod.metadata().uid(), "again")), "token",
      "UNAUTHENTICATED", "was already used");
}

TEST_F(PolicyE2E, CloudSaysNo) {
  auto pod = Pod("cloud-no-1", PodToken());
  ExpectPodDenied(pod, Code::PERMISSION_DENIED,
                  "cloud denied: the fleet does not run this pod on this node", "cloud");
  json record = FindAudit(*gate_, "RunPodSandbox", PodUid(pod.metadata().uid()));
  EXPECT_EQ(record.value("decision_id", "").rfind("authz-", 0), 0u) << record.dump();
}

TEST_F(PolicyE2E, CloudSlowerThanTheTimeoutIsDeniedInTime) {
  // The authorizer answers this pod after 3 s; the gate waits 500 ms.
  std::chrono::milliseconds took = ExpectPodDenied(
      Pod("cloud-slow-1", PodToken()), Code::UNAVAILABLE, "no answer within 500 ms", "cloud");
  EXPECT_LT(took.count(), kCloudTimeoutMs + 1500);
  EXPECT_GE(took.count(), kCloudTimeoutMs - 50) << "denied before the cloud had its time";
}

TEST_F(PolicyE2E, CloudGarbageIsDenied) {
  ExpectPodDenied(Pod("cloud-garbage-1", PodToken()), Code::PERMISSION_DENIED,
                  "cloud denied: malformed answer: not JSON", "cloud");
}

TEST_F(PolicyE2E, CloudDownIsDenied) {
  // The same policy, with the cloud at a loopback port where nothing listens.
  const int port = UnusedLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/data/crigate/allow";
  CrigateProcess gate(GateOptions(url));
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  ExpectPodDenied(Pod("cloud-down", PodToken()), Code::UNAVAILABLE,
                  "cloud unreachable: POST " + url, "cloud", &gate);
  ExpectPodDenied(Pod("cloud-down-2", PodToken()), Code::UNAVAILABLE, "failing closed", "cloud",
                  &gate);
}

// A gate with the trust stage alone, on its own copy of the store.
class TrustReload : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(stat(ContainerdSocket().c_str(), &st), 0) << "containerd is not running";
    dir_ = ScratchDir();
  }
  std::string dir_;
};

TEST_F(TrustReload, SighupSwapsTheTrustStoreWithoutDroppingCalls) {
  const std::string store = dir_ + "/trust.toml";
  WriteFile(store, TrustStore(true));
  CrigateProcess::Options o;
  o.policy = "[trust]\nstore = \"" + store + "\"\n[token]\nenabled = false\n";
  CrigateProcess gate(o);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket()), direct(ContainerdSocket());

  auto pod = HostNetworkPod("reload", gate.dir());
  std::string pod_id, id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok());
  std::vector<std::string> created;
  grpc::Status s =
      cri.CreateContainer(pod_id, Container("before", kBusybox, {"sleep", "3600"}), pod, &id);
  EXPECT_TRUE(s.ok()) << s.error_message();
  created.push_back(id);

  // Meanwhile, a caller keeps asking: a passthrough call, and a gated one
  // that containerd refuses (the name "before" is taken in that pod) while
  // busybox is trusted and the gate refuses once it is not. Any other answer
  // is a dropped call.
  const std::string& taken = pod_id;
  auto probe = Container("before", kBusybox, {"true"});
  grpc::Status containerd_says = direct.CreateContainer(taken, probe, pod, nullptr);
  ASSERT_FALSE(containerd_says.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, containerd_answers{0}, gate_denials{0};
  std::vector<std::string> dropped;
  std::thread caller([&] {
    CriClient c(gate.socket(), 10s);
    bool denied_once = false;
    while (!stop) {
      v1::VersionResponse v;
      grpc::Status version = c.Version(&v);
      if (!version.ok()) dropped.push_back("Version: " + version.error_message());
      grpc::Status create = c.CreateContainer(taken, probe, pod, nullptr);
      calls += 2;
      if (create.error_code() == containerd_says.error_code() &&
          create.error_message() == containerd_says.error_message()) {
        ++containerd_answers;
        if (denied_once) dropped.push_back("trusted again after the store dropped busybox");
      } else if (create.error_code() == Code::PERMISSION_DENIED &&
                 create.error_message().find("matches no trust rule") != std::string::npos) {
        ++gate_denials;
        denied_once = true;
      } else {
        dropped.push_back(std::string("CreateContainer: ") + StatusCodeName(create.error_code()) +
                          ": " + create.error_message());
      }
    }
  });

  // A broken store is refused on reload; the old one stays in force.
  const std::string reloaded = "reloaded: trust store, token keys";
  const std::string failed = "not reloaded, everything stays as it was";
  WriteFile(store, "[[rule]]\nimage = \"docker.io/library/busybox:1.35\"\ndigests = [\"nope\"]\n");
  size_t failures = CountInLog(gate, failed);
  ASSERT_EQ(kill(gate.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitForLog(gate, failed, failures)) << gate.Log();
  EXPECT_NE(gate.Log().find("rule[0].digests[0]"), std::string::npos) << gate.Log();
  s = cri.CreateContainer(pod_id, Container("kept", kBusybox, {"sleep", "3600"}), pod, &id);
  EXPECT_TRUE(s.ok()) << "the previous store should still trust busybox: " << s.error_message();
  created.push_back(id);
  EXPECT_TRUE(ContainerdHasContainer(pod_id, "kept"));

  // A store that no longer trusts busybox takes over.
  WriteFile(store, TrustStore(false));
  size_t reloads = CountInLog(gate, reloaded);
  ASSERT_EQ(kill(gate.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitForLog(gate, reloaded, reloads)) << gate.Log();
  s = cri.CreateContainer(pod_id, Container("after", kBusybox, {"sleep", "3600"}), pod, &id);
  EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("image docker.io/library/busybox:1.35 matches no trust rule"),
            std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "after"));
  ExpectAuditedDenial(
      FindAudit(gate, "CreateContainer", ContainerIn(pod.metadata().uid(), "after")), "trust",
      "PERMISSION_DENIED", "matches no trust rule");

  // A key the running daemon cannot take without a restart refuses the
  // whole reload, and says which key; the store in force stays.
  { std::ofstream(gate.dir() + "/config.toml", std::ios::app) << "\n[log]\nlevel = \"debug\"\n"; }
  failures = CountInLog(gate, failed);
  ASSERT_EQ(kill(gate.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitForLog(gate, failed, failures)) << gate.Log();
  EXPECT_NE(gate.Log().find("log changed, which takes a restart of crigate"), std::string::npos)
      << gate.Log();
  s = cri.CreateContainer(pod_id, Container("still", kBusybox, {"sleep", "3600"}), pod, &id);
  EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("matches no trust rule"), std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasContainer(pod_id, "still"));

  // Let the caller see the new store before it stops.
  for (auto until = std::chrono::steady_clock::now() + 10s;
       gate_denials == 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  stop = true;
  caller.join();
  EXPECT_TRUE(dropped.empty()) << dropped.size() << " bad answers, first: " << dropped.front();
  EXPECT_GT(gate_denials.load(), 0);
  EXPECT_GT(calls.load(), 0);
  EXPECT_EQ(waitpid(gate.pid(), nullptr, WNOHANG), 0) << "crigate exited: " << gate.Log();

  for (const auto& c : created) direct.RemoveContainer(c);
  direct.StopPodSandbox(pod_id);
  direct.RemovePodSandbox(pod_id);
}

TEST_F(TrustReload, BrokenTrustStoreAtStartExitsNonZeroNamingKeyAndFile) {
  const std::string store = dir_ + "/broken-trust.toml";
  WriteFile(store,
            "[[rule]]\nname = \"busybox\"\nimage = \"docker.io/library/busybox:1.35\"\n"
            "digests = [\"sha256:not-a-digest\"]\n");
  const std::string config = dir_ + "/config.toml";
  auto write_config = [&](const std::string& trust_store) {
    std::string text = "[server]\nsocket = \"" + dir_ + "/crigate.sock\"\n";
    text += "[backend]\nendpoint = \"unix://" + ContainerdSocket() + "\"\n";
    text += "[monitor]\nenabled = false\n";
    text += "[audit]\npath = \"" + dir_ + "/audit.jsonl\"\n";
    text += "[trust]\nstore = \"" + trust_store + "\"\n[token]\nenabled = false\n";
    WriteFile(config, text);
  };
  write_config(store);
  Ran ran = RunProgram({CrigateBinary(), "--config", config});
  EXPECT_EQ(ran.code, 2) << ran.err;
  EXPECT_NE(ran.err.find("trust.store: " + store + ": rule[0].digests[0]"), std::string::npos)
      << ran.err;
  struct stat st;
  EXPECT_NE(stat((dir_ + "/crigate.sock").c_str(), &st), 0) << "it served despite the error";

  // A store that is not there at all.
  const std::string missing = dir_ + "/no-such-trust.toml";
  write_config(missing);
  ran = RunProgram({CrigateBinary(), "--config", config});
  EXPECT_EQ(ran.code, 2) << ran.err;
  EXPECT_NE(ran.err.find("trust.store"), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find(missing), std::string::npos) << ran.err;
}

}  // namespace
}  // namespace crigate::test
