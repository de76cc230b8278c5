// CriContainerRuntime against an in-process CRI server, and the parsing of
// containerd's verbose info.
#include "runtime_backend.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <mutex>

#include "cri_subset.grpc.pb.h"

namespace crigate::monitor {
namespace {

// Trimmed from containerd 1.6's ContainerStatus(verbose) on this machine.
constexpr char kContainerdInfo[] = R"({
  "sandboxID": "5f0e",
  "pid": 4242,
  "removing": false,
  "snapshotKey": "abc",
  "snapshotter": "overlayfs",
  "runtimeType": "io.containerd.runc.v2",
  "runtimeOptions": null,
  "config": {"metadata": {"name": "burner"}},
  "runtimeSpec": {"ociVersion": "1.0.2-dev", "linux": {"cgroupsPath": "/k8s.io/abc",
                  "resources": {"memory": {"limit": 0}}}}
})";

TEST(ParseVerboseInfo, TakesPidSandboxAndCgroupsPath) {
  ContainerFacts facts;
  ASSERT_TRUE(ParseVerboseInfo(kContainerdInfo, &facts));
  EXPECT_EQ(facts.pid, 4242);
  EXPECT_EQ(facts.sandbox_id, "5f0e");
  EXPECT_EQ(facts.cgroups_path, "/k8s.io/abc");
}

TEST(ParseVerboseInfo, ToleratesMissingAndMistypedFields) {
  ContainerFacts facts;
  EXPECT_TRUE(ParseVerboseInfo(R"({"pid": "4242", "runtimeSpec": {"linux": []}})", &facts));
  EXPECT_EQ(facts.pid, 0);
  EXPECT_EQ(facts.cgroups_path, "");
  EXPECT_TRUE(ParseVerboseInfo(R"({"pid": -1, "runtimeSpec": 3})", &facts));
  EXPECT_EQ(facts.pid, 0);
  EXPECT_TRUE(ParseVerboseInfo(R"({"pid": 99999999999})", &facts));
  EXPECT_EQ(facts.pid, 0);
  EXPECT_FALSE(ParseVerboseInfo("not json", &facts));
  EXPECT_FALSE(ParseVerboseInfo("[1,2]", &facts));
  EXPECT_FALSE(ParseVerboseInfo("", &facts));
  EXPECT_FALSE(ParseVerboseInfo(R"({"pid": 1)", &facts));
}

class FakeCri final : public runtime::v1::RuntimeService::Service {
 public:
  grpc::Status ListContainers(grpc::ServerContext*,
                              const runtime::v1::ListContainersRequest* request,
                              runtime::v1::ListContainersResponse* response) override {
    last_list_filter_state = request->filter().state().state();
    auto* running = response->add_containers();
    running->set_id("run1");
    running->set_state(runtime::v1::CONTAINER_RUNNING);
    // A runtime that ignores the filter must not fool the client.
    auto* exited = response->add_containers();
    exited->set_id("exit1");
    exited->set_state(runtime::v1::CONTAINER_EXITED);
    return grpc::Status::OK;
  }
  grpc::Status ContainerStatus(grpc::ServerContext*,
                               const runtime::v1::ContainerStatusRequest* request,
                               runtime::v1::ContainerStatusResponse* response) override {
    if (request->container_id() != "run1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "an error occurred when try to find container");
    }
    verbose_asked = request->verbose();
    auto* status = response->mutable_status();
    status->set_id("run1");
    status->mutable_metadata()->set_name("burner");
    status->set_state(runtime::v1::CONTAINER_RUNNING);
    status->set_started_at(1700000000123456789);
    // kubelet's labels, which any client can set, say otherwise than the sandbox.
    (*status->mutable_labels())["io.kubernetes.pod.name"] = "label-pod";
    (*status->mutable_labels())["io.kubernetes.pod.namespace"] = "kube-system";
    (*status->mutable_labels())["app"] = "burner";
    (*response->mutable_info())["info"] = kContainerdInfo;
    return grpc::Status::OK;
  }
  grpc::Status PodSandboxStatus(grpc::ServerContext*,
                                const runtime::v1::PodSandboxStatusRequest* request,
                                runtime::v1::PodSandboxStatusResponse* response) override {
    if (request->pod_sandbox_id() != "5f0e" || sandbox_down) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "sandbox store not ready");
    }
    auto* status = response->mutable_status();
    status->set_id("5f0e");
    status->mutable_metadata()->set_name("pod-a");
    status->mutable_metadata()->set_namespace_("edge");
    return grpc::Status::OK;
  }
  grpc::Status StopContainer(grpc::ServerContext*, const runtime::v1::StopContainerRequest* request,
                             runtime::v1::StopContainerResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    stopped_id = request->container_id();
    stopped_timeout = request->timeout();
    return grpc::Status::OK;
  }

  std::mutex mu;
  runtime::v1::ContainerState last_list_filter_state = runtime::v1::CONTAINER_UNKNOWN;
  bool verbose_asked = false;
  bool sandbox_down = false;
  std::string stopped_id;
  int64_t stopped_timeout = -1;
};

class CriContainerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    runtime_ = std::make_unique<CriContainerRuntime>(
        server_->InProcessChannel(grpc::ChannelArguments()), std::chrono::seconds(2));
  }
  void TearDown() override { server_->Shutdown(); }

  FakeCri fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CriContainerRuntime> runtime_;
};

TEST_F(CriContainerRuntimeTest, ListRunningFiltersOnRunning) {
  std::vector<std::string> ids;
  ASSERT_TRUE(runtime_->ListRunning(&ids).ok());
  EXPECT_EQ(ids, std::vector<std::string>{"run1"});
  EXPECT_EQ(fake_.last_list_filter_state, runtime::v1::CONTAINER_RUNNING);
}

TEST_F(CriContainerRuntimeTest, StatusMapsEveryFact) {
  ContainerFacts facts;
  ASSERT_TRUE(runtime_->Status("run1", &facts).ok());
  EXPECT_TRUE(fake_.verbose_asked);
  EXPECT_EQ(facts.id, "run1");
  EXPECT_EQ(facts.name, "burner");
  EXPECT_EQ(facts.pod_name, "pod-a");
  EXPECT_EQ(facts.pod_namespace, "edge");
  EXPECT_EQ(facts.labels.at("app"), "burner");
  EXPECT_EQ(facts.state, ContainerRunState::kRunning);
  EXPECT_EQ(facts.started_at_ns, 1700000000123456789);
  EXPECT_EQ(facts.pid, 4242);
  EXPECT_EQ(facts.cgroups_path, "/k8s.io/abc");
}

TEST_F(CriContainerRuntimeTest, ThePodIsNamedByItsSandboxNeverByLabels) {
  ContainerFacts facts;
  ASSERT_TRUE(runtime_->Status("run1", &facts).ok());
  EXPECT_EQ(facts.pod_namespace, "edge");  // the label says kube-system
  EXPECT_EQ(facts.pod_name, "pod-a");
  // Without the sandbox the owner is unknown: an error, not a guess from labels.
  fake_.sandbox_down = true;
  EXPECT_EQ(runtime_->Status("run1", &facts).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CriContainerRuntimeTest, StatusPassesErrorsThrough) {
  ContainerFacts facts;
  grpc::Status status = runtime_->Status("nope", &facts);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CriContainerRuntimeTest, StopSendsGracePeriod) {
  ASSERT_TRUE(runtime_->Stop("run1", 7).ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.stopped_id, "run1");
  EXPECT_EQ(fake_.stopped_timeout, 7);
}

TEST(CriContainerRuntime, UnreachableRuntimeIsAnErrorWithinTheDeadline) {
  auto channel = grpc::CreateChannel("unix:/tmp/crigate-monitor-no-such.sock",
                                     grpc::InsecureChannelCredentials());
  CriContainerRuntime runtime(channel, std::chrono::milliseconds(200));
  std::vector<std::string> ids;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(runtime.ListRunning(&ids).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace crigate::monitor
