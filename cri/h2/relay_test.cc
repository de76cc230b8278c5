// The relay between a real grpc++ client and a real grpc++ server speaking
// the CRI subset over unix sockets: what goes in comes out, both ways.
#include "cri/h2/relay.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cri_subset.grpc.pb.h"

namespace crigate::cri::h2 {
namespace {

namespace v1 = ::runtime::v1;

// containerd's stand-in: answers a few methods and counts what reached it.
class Backend final : public v1::RuntimeService::Service {
 public:
  grpc::Status Version(grpc::ServerContext* ctx, const v1::VersionRequest* req,
                       v1::VersionResponse* resp) override {
    ++calls;
    ctx->AddInitialMetadata("x-initial", "from-backend");
    ctx->AddTrailingMetadata("x-trailing", "also-from-backend");
    auto seen = ctx->client_metadata().find("x-caller");
    if (seen != ctx->client_metadata().end()) {
      resp->set_runtime_name(std::string(seen->second.data(), seen->second.size()));
    }
    auto authorization = ctx->client_metadata().find("authorization");
    if (authorization != ctx->client_metadata().end()) resp->set_runtime_version("LEAKED");
    resp->set_version(req->version());
    return grpc::Status::OK;
  }
  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest*,
                              v1::ListContainersResponse* resp) override {
    ++calls;
    for (int i = 0; i < 6; ++i) {
      auto* c = resp->add_containers();
      c->set_id("c" + std::to_string(i));
      (*c->mutable_labels())["big"] = std::string(1 << 20, static_cast<char>('a' + i));
    }
    return grpc::Status::OK;
  }
  grpc::Status CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest* req,
                               v1::CreateContainerResponse* resp) override {
    ++calls;
    resp->set_container_id(std::to_string(req->ByteSizeLong()));
    return grpc::Status::OK;
  }
  grpc::Status RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* req,
                               v1::RemoveContainerResponse*) override {
    ++calls;
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container " + req->container_id());
  }
  std::atomic<int> calls{0};
};

// The relay in front of a backend, on a socket of its own, accepting on a
// thread the way the daemon's listener does.
class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/crigate-relay-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    backend_socket_ = dir_ + "/backend.sock";
    front_socket_ = dir_ + "/front.sock";
  }
  void TearDown() override {
    if (relay_) relay_->Stop();
    if (loop_.joinable()) loop_.join();
    stop_accept_ = true;
    if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (server_) server_->Shutdown();
    unlink(backend_socket_.c_str());
    unlink(front_socket_.c_str());
    rmdir(dir_.c_str());
  }

  void StartBackend() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + backend_socket_, grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(-1);
    builder.RegisterService(&backend_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  void StartRelay() {
    RelayOptions options;
    options.backend_socket = backend_socket_;
    options.served = [](std::string_view path) {
      return path.substr(0, 27) == "/runtime.v1.RuntimeService/";
    };
    auto relay = Relay::Create(options);
    ASSERT_TRUE(relay.ok()) << relay.error();
    relay_ = std::move(relay).value();
    loop_ = std::thread([this] { relay_->Run(); });

    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, front_socket_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listen_fd_, 64), 0);
    acceptor_ = std::thread([this] {
      while (!stop_accept_) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (stop_accept_) return;
          continue;
        }
        relay_->Adopt(fd);
      }
    });
  }

  std::unique_ptr<v1::RuntimeService::Stub> Client() {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    return v1::RuntimeService::NewStub(grpc::CreateCustomChannel(
        "unix:" + front_socket_, grpc::InsecureChannelCredentials(), args));
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  std::string dir_, backend_socket_, front_socket_;
  Backend backend_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Relay> relay_;
  std::thread loop_, acceptor_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_accept_{false};
};

TEST_F(RelayTest, AUnaryCallGoesThroughWithItsMetadataAndTrailers) {
  StartBackend();
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ctx.AddMetadata("x-caller", "kubelet");
  ctx.AddMetadata("authorization", "Bearer a.b.c");
  v1::VersionRequest req;
  req.set_version("v1");
  v1::VersionResponse resp;
  grpc::Status s = stub->Version(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(resp.version(), "v1");
  EXPECT_EQ(resp.runtime_name(), "kubelet") << "caller metadata reached the backend";
  EXPECT_EQ(resp.runtime_version(), "") << "the bearer token reached the backend";
  auto initial = ctx.GetServerInitialMetadata().find("x-initial");
  ASSERT_NE(initial, ctx.GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(initial->second.data(), initial->second.size()), "from-backend");
  auto trailing = ctx.GetServerTrailingMetadata().find("x-trailing");
  ASSERT_NE(trailing, ctx.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(trailing->second.data(), trailing->second.size()), "also-from-backend");
}

TEST_F(RelayTest, AnErrorKeepsItsCodeAndMessage) {
  StartBackend();
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::RemoveContainerRequest req;
  req.set_container_id("abc");
  v1::RemoveContainerResponse resp;
  grpc::Status s = stub->RemoveContainer(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no such container abc");
}

// Flow control on both hops: a 6 MB answer and a 14 MB request, far over
// the 1 MiB windows each hop opens.
TEST_F(RelayTest, LargeMessagesBothWays) {
  StartBackend();
  StartRelay();
  auto stub = Client();
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListContainersResponse resp;
    grpc::Status s = stub->ListContainers(&ctx, v1::ListContainersRequest(), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.containers_size(), 6);
    EXPECT_EQ(resp.containers(5).labels().at("big"), std::string(1 << 20, 'f'));
  }
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerRequest req;
    (*req.mutable_config()->mutable_annotations())["big"] = std::string(14 << 20, 'x');
    v1::CreateContainerResponse resp;
    grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.container_id(), std::to_string(req.ByteSizeLong()));
  }
}

TEST_F(RelayTest, APathThatIsNotServedIsAnsweredByTheRelayAlone) {
  StartBackend();
  StartRelay();
  grpc::GenericStub generic(
      grpc::CreateChannel("unix:" + front_socket_, grpc::InsecureChannelCredentials()));
  for (const char* path :
       {"/containerd.services.tasks.v1.Tasks/Start", "/runtime.v1.ImageService/ListImages"}) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::atomic<bool> done{false};
    grpc::Status status;
    std::mutex mu;
    std::condition_variable cv;
    generic.UnaryCall(&ctx, path, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = s;
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done.load(); });
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
        << path << ": " << status.error_message();
    EXPECT_NE(status.error_message().find("not served"), std::string::npos) << path;
  }
  EXPECT_EQ(backend_.calls.load(), 0) << "a refused path reached the backend";
}

TEST_F(RelayTest, NoBackendIsUnavailableAndTheCallerStaysConnected) {
  StartRelay();  // nothing listens on backend.sock
  auto stub = Client();
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::VersionResponse resp;
    grpc::Status s = stub->Version(&ctx, v1::VersionRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_NE(s.error_message().find("containerd is unavailable"), std::string::npos)
        << s.error_message();
  }
  StartBackend();  // containerd comes (back): the same channel gets through
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::VersionRequest req;
  req.set_version("v1");
  v1::VersionResponse resp;
  grpc::Status s = stub->Version(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.version(), "v1");
}

TEST_F(RelayTest, ManyCallersAtOnce) {
  StartBackend();
  StartRelay();
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      auto stub = Client();
      for (int i = 0; i < 100; ++i) {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        v1::VersionRequest req;
        req.set_version("v" + std::to_string(i));
        v1::VersionResponse resp;
        grpc::Status s = stub->Version(&ctx, req, &resp);
        (s.ok() && resp.version() == req.version() ? ok : failed)++;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(ok.load(), 800);
  EXPECT_EQ(failed.load(), 0);
}

}  // namespace
}  // namespace crigate::cri::h2
