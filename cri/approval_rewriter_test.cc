#include "cri/approval_rewriter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "cri/inspect.h"
#include "cri_subset.pb.h"
#include "policy/testing.h"

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;
using policy::testing::TempDir;
using shim::kApprovalAnnotation;

const std::string kSandboxId(64, 'a');
constexpr char kImage[] = "docker.io/library/busybox:1.35";

// Sandbox ids known by full id, answered for any unique prefix, as
// containerd's truncindex does.
class FakeSandboxIds final : public SandboxIdResolver {
 public:
  void Add(const std::string& id) { ids_.push_back(id); }
  void FailWith(grpc::Status status) { failure_ = std::move(status); }

  policy::Result<std::string> FullSandboxId(const std::string& prefix) override {
    ++calls;
    if (!failure_.ok()) return failure_;
    std::string found;
    for (const auto& id : ids_) {
      if (id.rfind(prefix, 0) != 0) continue;
      if (!found.empty()) return grpc::Status(grpc::StatusCode::UNKNOWN, "ambiguous");
      found = id;
    }
    if (found.empty()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such sandbox");
    return found;
  }

  int calls = 0;

 private:
  std::vector<std::string> ids_;
  grpc::Status failure_;
};

// One length-delimited field in protobuf wire format: how a field the CRI
// subset does not know (DNSConfig, a future field) looks on the wire.
std::string Field(int number, const std::string& payload) {
  std::string out;
  auto varint = [&out](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  varint(static_cast<uint64_t>(number) << 3 | 2);
  varint(payload.size());
  return out + payload;
}

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

v1::PodSandboxConfig Pod() {
  v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_name("web");
  pod.mutable_metadata()->set_uid("uid-1");
  (*pod.mutable_labels())["app"] = "web";
  (*pod.mutable_annotations())["team"] = "blue";
  return pod;
}

policy::GateRequest Request(const std::string& action) {
  policy::GateRequest r;
  r.action = action;
  return r;
}

class ApprovalRewriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_path_ = dir_.path() + "/approval.key";
    ASSERT_TRUE(shim::CreateApprovalKey(key_path_).ok());
    ASSERT_TRUE(shim::LoadApprovalKey(key_path_, &key_, geteuid()).ok());
    ApprovalConfig config;
    config.enabled = true;
    config.key_file = key_path_;
    std::string error;
    issuer_ = ApprovalIssuer::Create(config, &error);
    ASSERT_TRUE(issuer_) << error;
    rewriter_ = std::make_unique<ApprovalRewriter>(issuer_.get(), &images_, &sandboxes_);

    policy::ImageIdentity busybox;
    busybox.id = "sha256:" + std::string(64, 'b');
    busybox.repo_tags = {kImage};
    busybox.repo_digests = {"docker.io/library/busybox@sha256:" + std::string(64, 'c')};
    images_.AddImage(busybox);
    sandboxes_.Add(kSandboxId);
    sandboxes_.Add(std::string(64, 'f'));
  }

  // Rewrites `bytes` as `action`; the status, whether it was rewritten, and
  // the bytes that would be forwarded.
  grpc::Status Rewrite(const std::string& action, const std::string& bytes, bool* rewritten,
                       std::string* forwarded) {
    grpc::ByteBuffer out;
    grpc::Status s = rewriter_->Rewrite(Request(action), Buffer(bytes), &out, rewritten);
    if (*rewritten) *forwarded = Bytes(out);
    return s;
  }

  shim::ApprovalStatus Verify(const shim::ApprovalFields& fields, const std::string& token) {
    return shim::VerifyApproval(key_, fields, token, std::chrono::system_clock::now());
  }

  TempDir dir_;
  std::string key_path_;
  shim::ApprovalKey key_;
  policy::testing::FakeResolver images_;
  FakeSandboxIds sandboxes_;
  std::unique_ptr<ApprovalIssuer> issuer_;
  std::unique_ptr<ApprovalRewriter> rewriter_;
};

TEST_F(ApprovalRewriterTest, RunPodSandboxGetsAnApprovalForItsPodAndKeepsUnknownFields) {
  v1::PodSandboxConfig pod = Pod();
  (*pod.mutable_annotations())[kApprovalAnnotation] = "v1.s.forged-by-the-client";
  // config field 4 (DNSConfig) and request field 99: unknown to the subset.
  const std::string dns = Field(1, "10.0.0.10");
  const std::string future = Field(1, "something new");
  const std::string request =
      Field(1, pod.SerializeAsString() + Field(4, dns)) + Field(2, "runc") + Field(99, future);

  bool rewritten = false;
  std::string forwarded;
  grpc::Status s = Rewrite("RunPodSandbox", request, &rewritten, &forwarded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(rewritten);

  v1::RunPodSandboxRequest out;
  ASSERT_TRUE(out.ParseFromString(forwarded));
  // Unknown fields are re-encoded verbatim (lite messages keep their bytes).
  EXPECT_NE(forwarded.find(Field(99, future)), std::string::npos);
  EXPECT_NE(out.config().SerializeAsString().find(Field(4, dns)), std::string::npos);
  EXPECT_EQ(out.runtime_handler(), "runc");
  EXPECT_EQ(out.config().metadata().SerializeAsString(), pod.metadata().SerializeAsString());
  EXPECT_EQ(out.config().labels().at("app"), "web");
  EXPECT_EQ(out.config().annotations().at("team"), "blue");
  ASSERT_EQ(out.config().annotations().size(), 2u);

  // The client's value is gone; the gate's verifies for this pod only.
  const std::string& token = out.config().annotations().at(kApprovalAnnotation);
  EXPECT_NE(token, "v1.s.forged-by-the-client");
  shim::ApprovalStatus v = Verify(shim::SandboxApprovalFields("default", "web", "uid-1"), token);
  EXPECT_TRUE(v.ok()) << v.reason();
  EXPECT_TRUE(Verify(shim::SandboxApprovalFields("default", "web", "uid-2"), token).refused());
}

TEST_F(ApprovalRewriterTest, EveryApprovalIsFresh) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = Pod();
  bool rewritten = false;
  std::string a, b;
  ASSERT_TRUE(Rewrite("RunPodSandbox", req.SerializeAsString(), &rewritten, &a).ok());
  ASSERT_TRUE(Rewrite("RunPodSandbox", req.SerializeAsString(), &rewritten, &b).ok());
  v1::RunPodSandboxRequest ra, rb;
  ASSERT_TRUE(ra.ParseFromString(a) && rb.ParseFromString(b));
  EXPECT_NE(ra.config().annotations().at(kApprovalAnnotation),
            rb.config().annotations().at(kApprovalAnnotation));
}

TEST_F(ApprovalRewriterTest, CreateContainerWithAPrefixIsApprovedForTheFullSandboxId) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name("app");
  config.mutable_image()->set_image(kImage);
  config.add_command("/bin/sleep");
  (*config.mutable_annotations())[kApprovalAnnotation] = "copied from another container";
  // ContainerConfig field 7 (envs) and CreateContainerRequest field 42: unknown.
  const std::string env = Field(1, "K") + Field(2, "V");
  const std::string request = Field(1, kSandboxId.substr(0, 12)) +
                              Field(2, config.SerializeAsString() + Field(7, env)) +
                              Field(3, Pod().SerializeAsString()) + Field(42, "x");

  bool rewritten = false;
  std::string forwarded;
  grpc::Status s = Rewrite("CreateContainer", request, &rewritten, &forwarded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(sandboxes_.calls, 1);

  v1::CreateContainerRequest out;
  ASSERT_TRUE(out.ParseFromString(forwarded));
  // The request itself still names the prefix: containerd expands it.
  EXPECT_EQ(out.pod_sandbox_id(), kSandboxId.substr(0, 12));
  EXPECT_NE(forwarded.find(Field(42, "x")), std::string::npos);
  EXPECT_NE(out.config().SerializeAsString().find(Field(7, env)), std::string::npos);
  EXPECT_EQ(out.config().command(0), "/bin/sleep");
  EXPECT_EQ(out.sandbox_config().annotations().count(kApprovalAnnotation), 0u);

  const std::string& token = out.config().annotations().at(kApprovalAnnotation);
  shim::ApprovalStatus v = Verify(
      shim::ContainerApprovalFields("default", "web", "uid-1", kSandboxId, "app", kImage), token);
  EXPECT_TRUE(v.ok()) << v.reason();
  EXPECT_TRUE(
      Verify(shim::ContainerApprovalFields("default", "web", "uid-1", kSandboxId, "evil", kImage),
             token)
          .refused());
}

TEST_F(ApprovalRewriterTest, CreateContainerNamesTheImageAsContainerdWill) {
  // Asked by id, the image still gets its name:tag@digest-ranked reference.
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(kSandboxId);
  req.mutable_config()->mutable_metadata()->set_name("app");
  req.mutable_config()->mutable_image()->set_image("sha256:" + std::string(64, 'b'));
  *req.mutable_sandbox_config() = Pod();
  bool rewritten = false;
  std::string forwarded;
  ASSERT_TRUE(Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded).ok());
  EXPECT_EQ(sandboxes_.calls, 0);  // a full id needs no lookup
  v1::CreateContainerRequest out;
  ASSERT_TRUE(out.ParseFromString(forwarded));
  EXPECT_TRUE(
      Verify(shim::ContainerApprovalFields("default", "web", "uid-1", kSandboxId, "app", kImage),
             out.config().annotations().at(kApprovalAnnotation))
          .ok());
}

TEST_F(ApprovalRewriterTest, ContainerIsRefusedWhenItsSandboxOrImageCannotBeResolved) {
  v1::CreateContainerRequest req;
  req.mutable_config()->mutable_metadata()->set_name("app");
  req.mutable_config()->mutable_image()->set_image(kImage);
  *req.mutable_sandbox_config() = Pod();
  bool rewritten = true;
  std::string forwarded;

  req.set_pod_sandbox_id("0123");
  grpc::Status s = Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("pod sandbox 0123"), std::string::npos) << s.error_message();
  EXPECT_FALSE(rewritten);

  req.set_pod_sandbox_id("");
  s = Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  req.set_pod_sandbox_id("aaaa");
  sandboxes_.FailWith(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow"));
  s = Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_FALSE(rewritten);

  req.set_pod_sandbox_id(kSandboxId);
  req.mutable_config()->mutable_image()->set_image("docker.io/library/nginx:latest");
  s = Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("image docker.io/library/nginx:latest"), std::string::npos);
  EXPECT_FALSE(rewritten);
}

TEST_F(ApprovalRewriterTest, FailureToMintRefusesTheCall) {
  // No container name: MintApproval refuses to sign a container approval
  // with a missing field, and the call must not go out without one.
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(kSandboxId);
  req.mutable_config()->mutable_image()->set_image(kImage);
  *req.mutable_sandbox_config() = Pod();
  bool rewritten = true;
  std::string forwarded;
  grpc::Status s = Rewrite("CreateContainer", req.SerializeAsString(), &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << s.error_message();
  EXPECT_FALSE(rewritten);
}

TEST_F(ApprovalRewriterTest, MalformedRequestIsRefused) {
  bool rewritten = true;
  std::string forwarded;
  grpc::Status s = Rewrite("RunPodSandbox", "\xff\xff\xff", &rewritten, &forwarded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(rewritten);
}

TEST_F(ApprovalRewriterTest, OtherActionsPassUnchanged) {
  v1::StartContainerRequest req;
  req.set_container_id(kSandboxId);
  for (const char* action : {"StartContainer", "PullImage", "UpdateContainerResources"}) {
    bool rewritten = true;
    std::string forwarded;
    EXPECT_TRUE(Rewrite(action, req.SerializeAsString(), &rewritten, &forwarded).ok());
    EXPECT_FALSE(rewritten) << action;
  }
  EXPECT_EQ(images_.image_calls, 0);
}

TEST_F(ApprovalRewriterTest, ReloadSwapsTheKeyAndKeepsTheOldOneOnFailure) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = Pod();
  auto token = [&] {
    bool rewritten = false;
    std::string forwarded;
    EXPECT_TRUE(Rewrite("RunPodSandbox", req.SerializeAsString(), &rewritten, &forwarded).ok());
    v1::RunPodSandboxRequest out;
    EXPECT_TRUE(out.ParseFromString(forwarded));
    return out.config().annotations().at(kApprovalAnnotation);
  };
  const auto fields = shim::SandboxApprovalFields("default", "web", "uid-1");

  ASSERT_EQ(unlink(key_path_.c_str()), 0);
  EXPECT_FALSE(issuer_->Reload().ok());
  EXPECT_TRUE(Verify(fields, token()).ok());  // still the old key

  ASSERT_TRUE(shim::CreateApprovalKey(key_path_).ok());
  ASSERT_TRUE(issuer_->Reload().ok());
  const std::string fresh = token();
  EXPECT_TRUE(Verify(fields, fresh).refused());
  shim::ApprovalKey rotated;
  ASSERT_TRUE(shim::LoadApprovalKey(key_path_, &rotated, geteuid()).ok());
  EXPECT_TRUE(shim::VerifyApproval(rotated, fields, fresh, std::chrono::system_clock::now()).ok());
}

TEST(ApprovalIssuer, RefusesAKeyOthersCanRead) {
  TempDir dir;
  const std::string path = dir.path() + "/approval.key";
  ASSERT_TRUE(shim::CreateApprovalKey(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ApprovalConfig config;
  config.key_file = path;
  std::string error;
  EXPECT_FALSE(ApprovalIssuer::Create(config, &error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  config.key_file = dir.path() + "/missing";
  EXPECT_FALSE(ApprovalIssuer::Create(config, &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

std::vector<std::string> ParseErrors(std::string_view text, ApprovalConfig* config) {
  toml::table root = toml::parse(text);
  std::vector<std::string> errors;
  *config = ParseApprovalConfig(root, errors);
  return errors;
}

TEST(ApprovalConfigTest, DefaultsLeaveItOff) {
  ApprovalConfig config;
  EXPECT_TRUE(ParseErrors("", &config).empty());
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.key_file, "/etc/crigate/approval.key");
  EXPECT_EQ(config.ttl, std::chrono::seconds(300));
}

TEST(ApprovalConfigTest, ReadsEveryKey) {
  ApprovalConfig config;
  EXPECT_TRUE(
      ParseErrors("[approval]\nenabled = true\nkey_file = \"/k\"\nttl_seconds = 60\n", &config)
          .empty());
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.key_file, "/k");
  EXPECT_EQ(config.ttl, std::chrono::seconds(60));
}

TEST(ApprovalConfigTest, EveryErrorNamesItsKey) {
  ApprovalConfig config;
  const auto errors = ParseErrors(
      "[approval]\nenabled = \"yes\"\nkey_file = \"relative\"\nttl_seconds = 0\nttl = 5\n",
      &config);
  const std::vector<std::string> expected = {"approval.ttl: unknown key",
                                             "approval.enabled: must be true or false",
                                             "approval.key_file: must be an absolute path",
                                             "approval.ttl_seconds: must be an integer from 1 to "
                                             "86400"};
  EXPECT_EQ(errors, expected);
  EXPECT_EQ(ParseErrors("approval = 1\n", &config),
            std::vector<std::string>{"approval: must be a table ([approval])"});
}

}  // namespace
}  // namespace crigate::cri
