// The relay between a real grpc++ client and a real grpc++ server speaking
// the CRI subset over unix sockets: what goes in comes out, both ways.
#include "cri/h2/relay.h"

#include <fcntl.h>
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
#include <optional>
#include <set>
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
  grpc::Status CreateContainer(grpc::ServerContext* ctx, const v1::CreateContainerRequest* req,
                               v1::CreateContainerResponse* resp) override {
    ++calls;
    deadline_left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           ctx->deadline() - std::chrono::system_clock::now())
                           .count();
    resp->set_container_id(std::to_string(req->ByteSizeLong()));
    return grpc::Status::OK;
  }
  grpc::Status RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* req,
                               v1::RemoveContainerResponse*) override {
    ++calls;
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container " + req->container_id());
  }
  // Answers only once the caller gave up (or after 10 s).
  grpc::Status StopContainer(grpc::ServerContext* ctx, const v1::StopContainerRequest*,
                             v1::StopContainerResponse*) override {
    ++calls;
    for (int i = 0; i < 1000 && !ctx->IsCancelled(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  std::atomic<int64_t> deadline_left_ms{0};
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
    held_.Release();  // decisions a failed test left waiting
    if (relay_) relay_->Stop();
    if (loop_.joinable()) loop_.join();
    for (auto& worker : workers_) worker.join();
    stop_accept_ = true;
    if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (server_) server_->Shutdown();
    unlink(backend_socket_.c_str());
    unlink(front_socket_.c_str());
    rmdir(dir_.c_str());
  }

  void StartBackend(int max_connection_age_ms = 0) {
    grpc::ServerBuilder builder;
    if (max_connection_age_ms > 0) {
      // grpc sends GOAWAY at this age and closes the connection a minute later.
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, max_connection_age_ms);
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 60000);
    }
    builder.AddListeningPort("unix:" + backend_socket_, grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(-1);
    builder.RegisterService(&backend_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  // CreateContainer is held for decide_; the rest of RuntimeService is
  // relayed at once; anything else is refused.
  void StartRelay(size_t max_message_bytes = 16 << 20,
                  std::function<int()> connect_backend = nullptr) {
    RelayOptions options;
    options.connect_backend = std::move(connect_backend);
    options.backend_socket = backend_socket_;
    options.max_message_bytes = max_message_bytes;
    options.route = [](std::string_view path) {
      if (path == "/runtime.v1.RuntimeService/CreateContainer" ||
          path == "/runtime.v1.RuntimeService/RemoveContainer" ||
          path == "/runtime.v1.RuntimeService/StopContainer") {
        return Route::kHold;
      }
      return path.substr(0, 27) == "/runtime.v1.RuntimeService/" ? Route::kRelay : Route::kRefuse;
    };
    options.decide = [this](const HeldCall& call) { return decide_(call); };
    options.refused = [this](const HeldCall& call, const base::Status& refusal) {
      std::lock_guard<std::mutex> lock(refused_mu_);
      refused_.emplace_back(call, refusal);
    };
    options.post = [this](std::function<void()> task) {
      std::lock_guard<std::mutex> lock(workers_mu_);
      workers_.emplace_back(std::move(task));
    };
    options.ended = [this](const StreamEnd& end) {
      std::lock_guard<std::mutex> lock(ended_mu_);
      ended_.push_back({std::string(end.path), end.route, end.outcome, end.answered_by_relay});
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

  // Decisions that wait until the test lets them go, for what happens while
  // a call is being decided. TearDown lets go what a test left waiting.
  class HeldDecisions {
   public:
    // From decide_: counts this decision, then waits to be let go.
    void Hold() {
      std::unique_lock<std::mutex> lock(mu_);
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    // Waits (up to 20 s) until n decisions are held.
    bool WaitFor(int n) {
      std::unique_lock<std::mutex> lock(mu_);
      return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return held_ >= n; });
    }
    int count() {
      std::lock_guard<std::mutex> lock(mu_);
      return held_;
    }
    void Release() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        released_ = true;
      }
      cv_.notify_all();
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    int held_ = 0;           // guarded by mu_
    bool released_ = false;  // guarded by mu_
  };

  // What `refused` was told, once it holds n entries (or after 5 s).
  std::vector<std::pair<HeldCall, base::Status>> WaitForRefusals(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lock(refused_mu_);
        if (refused_.size() >= n) return refused_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(refused_mu_);
    return refused_;
  }

  // What `ended` was told, as plain values.
  struct Ended {
    std::string path;
    Route route;
    base::Code outcome;
    bool answered_by_relay;
  };

  // What `ended` was told, once it holds n entries (or after 5 s): it runs
  // when the relay closes the caller's stream, which may be just after the
  // caller has its answer.
  std::vector<Ended> WaitForEnds(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lock(ended_mu_);
        if (ended_.size() >= n) return ended_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(ended_mu_);
    return ended_;
  }

  static void Deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  std::string dir_, backend_socket_, front_socket_;
  Backend backend_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Relay> relay_;
  std::thread loop_, acceptor_;
  std::function<Verdict(const HeldCall&)> decide_ = [](const HeldCall&) { return Verdict(); };
  HeldDecisions held_;
  std::mutex refused_mu_;
  std::vector<std::pair<HeldCall, base::Status>> refused_;  // guarded by refused_mu_
  std::mutex ended_mu_;
  std::vector<Ended> ended_;  // guarded by ended_mu_
  std::mutex workers_mu_;
  std::vector<std::thread> workers_;
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
  // Each refusal is told to `refused` (the daemon audits it), with its path.
  // Each is told on a worker of its own, so in either order.
  auto refused = WaitForRefusals(2);
  ASSERT_EQ(refused.size(), 2u);
  std::set<std::string> paths = {refused[0].first.path, refused[1].first.path};
  EXPECT_EQ(paths, std::set<std::string>({"/containerd.services.tasks.v1.Tasks/Start",
                                          "/runtime.v1.ImageService/ListImages"}));
  for (const auto& [call, status] : refused) {
    EXPECT_EQ(status.code(), base::Code::UNIMPLEMENTED);
    EXPECT_EQ(call.peer_uid, static_cast<int>(getuid()));
  }
}

// containerd's GOAWAY ends the use of that connection, not the caller's
// calls: the next one goes on a new connection.
TEST_F(RelayTest, AfterContainerdsGoawayTheNextCallUsesANewConnection) {
  StartBackend(300);
  StartRelay();
  auto stub = Client();
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::VersionResponse resp;
    grpc::Status s = stub->Version(&ctx, v1::VersionRequest(), &resp);
    EXPECT_TRUE(s.ok()) << "call " << i << ": " << s.error_code() << " " << s.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past the age: GOAWAY sent
  }
  EXPECT_EQ(backend_.calls.load(), 3);
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

v1::CreateContainerRequest CreateRequest(const std::string& pod) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod);
  req.mutable_config()->mutable_metadata()->set_name("web");
  (*req.mutable_config()->mutable_annotations())["crigate.io/token"] = "secret";
  return req;
}

TEST_F(RelayTest, AHeldCallIsDecidedOnItsMessageWithTheCallersCredentialsThenRelayed) {
  StartBackend();
  std::mutex mu;
  std::vector<HeldCall> seen;
  decide_ = [&](const HeldCall& call) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(call);
    return Verdict();
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ctx.AddMetadata("authorization", "Bearer t.o.k");
  const v1::CreateContainerRequest req = CreateRequest("pod-1");
  v1::CreateContainerResponse resp;
  grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.container_id(), std::to_string(req.ByteSizeLong()));
  EXPECT_EQ(backend_.calls.load(), 1);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/runtime.v1.RuntimeService/CreateContainer");
  EXPECT_EQ(seen[0].head.bearer_token, "t.o.k");
  EXPECT_EQ(seen[0].peer_uid, static_cast<int>(getuid()));
  EXPECT_EQ(seen[0].peer_pid, static_cast<int>(getpid()));
  v1::CreateContainerRequest judged;
  ASSERT_TRUE(judged.ParseFromString(seen[0].message));
  EXPECT_EQ(judged.pod_sandbox_id(), "pod-1");
}

TEST_F(RelayTest, ADenialIsTheAnswerAndNothingReachesContainerd) {
  StartBackend();
  decide_ = [](const HeldCall&) {
    Verdict v;
    v.status = base::Status::PermissionDenied("crigate: untrusted image");
    return v;
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::CreateContainerResponse resp;
  grpc::Status s = stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "crigate: untrusted image");
  EXPECT_EQ(backend_.calls.load(), 0);
}

// The metrics hear of every stream once, with the status the caller got
// and whose answer it was: containerd's (relayed, or held and allowed) or
// the relay's own (a denial, an unserved path).
TEST_F(RelayTest, EndedTellsEachStreamsRouteAndOutcomeOnce) {
  StartBackend();
  decide_ = [](const HeldCall& call) {
    Verdict v;
    if (call.path == "/runtime.v1.RuntimeService/CreateContainer") {
      v.status = base::Status::PermissionDenied("crigate: untrusted image");
    }
    return v;
  };
  StartRelay();
  auto stub = Client();
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::VersionResponse resp;
    ASSERT_TRUE(stub->Version(&ctx, v1::VersionRequest(), &resp).ok());
  }
  ASSERT_EQ(WaitForEnds(1).size(), 1u);
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::RemoveContainerRequest req;
    req.set_container_id("abc");
    v1::RemoveContainerResponse resp;
    EXPECT_EQ(stub->RemoveContainer(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  ASSERT_EQ(WaitForEnds(2).size(), 2u);
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerResponse resp;
    EXPECT_EQ(stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  ASSERT_EQ(WaitForEnds(3).size(), 3u);
  {
    grpc::GenericStub generic(
        grpc::CreateChannel("unix:" + front_socket_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    generic.UnaryCall(&ctx, "/containerd.services.tasks.v1.Tasks/Start", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status) {
                        std::lock_guard<std::mutex> lock(mu);
                        done = true;
                        cv.notify_all();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  const std::vector<Ended> ends = WaitForEnds(4);
  ASSERT_EQ(ends.size(), 4u);
  EXPECT_EQ(ends[0].path, "/runtime.v1.RuntimeService/Version");
  EXPECT_EQ(ends[0].route, Route::kRelay);
  EXPECT_EQ(ends[0].outcome, base::Code::OK);
  EXPECT_FALSE(ends[0].answered_by_relay);
  EXPECT_EQ(ends[1].route, Route::kHold);
  EXPECT_EQ(ends[1].outcome, base::Code::NOT_FOUND) << "containerd's status, held and allowed";
  EXPECT_FALSE(ends[1].answered_by_relay);
  EXPECT_EQ(ends[2].route, Route::kHold);
  EXPECT_EQ(ends[2].outcome, base::Code::PERMISSION_DENIED);
  EXPECT_TRUE(ends[2].answered_by_relay);
  EXPECT_EQ(ends[3].path, "/containerd.services.tasks.v1.Tasks/Start");
  EXPECT_EQ(ends[3].route, Route::kRefuse);
  EXPECT_EQ(ends[3].outcome, base::Code::UNIMPLEMENTED);
  EXPECT_TRUE(ends[3].answered_by_relay);
}

TEST_F(RelayTest, AReplacementIsWhatContainerdGets) {
  StartBackend();
  decide_ = [](const HeldCall& call) {
    v1::CreateContainerRequest stripped;
    stripped.ParseFromString(call.message);
    stripped.mutable_config()->mutable_annotations()->erase("crigate.io/token");
    Verdict v;
    v.replacement = stripped.SerializeAsString();
    return v;
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::CreateContainerRequest req = CreateRequest("pod-1");
  v1::CreateContainerResponse resp;
  grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  req.mutable_config()->mutable_annotations()->erase("crigate.io/token");
  EXPECT_EQ(resp.container_id(), std::to_string(req.ByteSizeLong()));
}

TEST_F(RelayTest, AGzipRequestIsJudgedDecompressed) {
  StartBackend();
  std::atomic<bool> parsed{false};
  decide_ = [&](const HeldCall& call) {
    v1::CreateContainerRequest judged;
    parsed = call.head.encoding == "gzip" && judged.ParseFromString(call.message) &&
             judged.pod_sandbox_id() == "pod-gz";
    return Verdict();
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  v1::CreateContainerRequest req = CreateRequest("pod-gz");
  (*req.mutable_config()->mutable_labels())["padding"] =
      std::string(4096, 'p');  // worth compressing
  v1::CreateContainerResponse resp;
  grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(parsed.load()) << "the decision did not see the decompressed request";
  EXPECT_EQ(resp.container_id(), std::to_string(req.ByteSizeLong()));
}

// server.max_message_bytes on a held call: refused, and the connection,
// whose credit the held bytes used, goes on serving.
TEST_F(RelayTest, AHeldRequestOverTheLimitIsRefusedAndTheConnectionGoesOn) {
  StartBackend();
  StartRelay(1 << 20);
  auto stub = Client();
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerRequest req = CreateRequest("pod-1");
    (*req.mutable_config()->mutable_labels())["big"] = std::string(3 << 20, 'b');
    v1::CreateContainerResponse resp;
    grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_NE(s.error_message().find("more than the limit for a held request (1048576)"),
              std::string::npos)
        << s.error_message();
  }
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerResponse resp;
    grpc::Status s = stub->CreateContainer(&ctx, CreateRequest("pod-2"), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(backend_.calls.load(), 3);
}

// A call allowed after its caller left is not relayed, and its undo runs
// (a token's use given back).
TEST_F(RelayTest, TheUndoRunsWhenTheCallerLeavesDuringTheDecision) {
  StartBackend();
  std::atomic<bool> undone{false};
  decide_ = [&](const HeldCall&) {
    held_.Hold();
    Verdict v;
    v.undo = [&] { undone = true; };
    return v;
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  std::thread caller([&] {
    v1::CreateContainerResponse resp;
    grpc::Status s = stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
  });
  ASSERT_TRUE(held_.WaitFor(1));
  ctx.TryCancel();
  caller.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the RST reaches the relay
  held_.Release();
  for (int i = 0; i < 200 && !undone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(undone.load());
  EXPECT_EQ(backend_.calls.load(), 0) << "an abandoned call reached containerd";
}

// Verdict::after sees containerd's status and last message before the
// caller does, and its error is what the caller gets (a pulled image whose
// digest the trust store refuses); on the worker and inline alike.
TEST_F(RelayTest, AfterSeesTheAnswerAndLastMessageAndMayReplaceTheStatus) {
  StartBackend();
  std::mutex mu;
  std::vector<std::string> seen;
  bool inline_after = false;
  decide_ = [&](const HeldCall&) {
    Verdict v;
    v.after_inline = inline_after;
    v.after = [&](const CallEnd& end) {
      v1::CreateContainerResponse created;
      std::lock_guard<std::mutex> lock(mu);
      if (end.last_response != nullptr && created.ParseFromString(*end.last_response)) {
        seen.push_back(base::CodeName(end.answer.code()) + " " + created.container_id() +
                       (end.reached_backend ? " reached" : " not reached"));
      }
      return base::Status::PermissionDenied("crigate: the created container is refused");
    };
    return v;
  };
  StartRelay();
  auto stub = Client();
  const v1::CreateContainerRequest req = CreateRequest("pod-1");
  for (bool mode : {false, true}) {
    inline_after = mode;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerResponse resp;
    grpc::Status s = stub->CreateContainer(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << "inline=" << mode;
    EXPECT_EQ(s.error_message(), "crigate: the created container is refused");
  }
  EXPECT_EQ(backend_.calls.load(), 2);
  std::lock_guard<std::mutex> lock(mu);
  const std::string expected = "OK " + std::to_string(req.ByteSizeLong()) + " reached";
  EXPECT_EQ(seen, std::vector<std::string>({expected, expected}));
}

// An OK from after keeps containerd's answer as it was, an error included,
// also when containerd answered trailers-only.
TEST_F(RelayTest, AnOkAfterKeepsContainerdsErrorAsItWas) {
  StartBackend();
  std::atomic<int> after_calls{0};
  std::atomic<int> seen_code{-1};
  decide_ = [&](const HeldCall&) {
    Verdict v;
    v.after = [&](const CallEnd& end) {
      ++after_calls;
      seen_code = static_cast<int>(end.answer.code());
      return base::Status::OK();
    };
    return v;
  };
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
  EXPECT_EQ(after_calls.load(), 1);
  EXPECT_EQ(seen_code.load(), static_cast<int>(base::Code::NOT_FOUND));
}

// A relayed call the caller gives up on still ends its after, once, with
// CANCELLED (the daemon removes the approval it wrote for it).
TEST_F(RelayTest, AfterRunsOnceWithCancelledWhenTheCallerGivesUp) {
  StartBackend();
  std::atomic<int> after_calls{0};
  std::atomic<int> seen_code{-1};
  decide_ = [&](const HeldCall&) {
    Verdict v;
    v.after = [&](const CallEnd& end) {
      seen_code = static_cast<int>(end.answer.code());
      ++after_calls;
      return base::Status::OK();
    };
    v.undo = [] { ADD_FAILURE() << "undo ran for a call that was relayed"; };
    return v;
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  grpc::Status s;
  std::thread caller([&] {
    v1::StopContainerRequest req;
    req.set_container_id("abc");
    v1::StopContainerResponse resp;
    s = stub->StopContainer(&ctx, req, &resp);
  });
  // containerd has the call (and holds it until it is cancelled): give up.
  for (int i = 0; i < 500 && backend_.calls.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ctx.TryCancel();
  caller.join();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 500 && after_calls.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a second run would show now
  EXPECT_EQ(after_calls.load(), 1);
  EXPECT_EQ(seen_code.load(), static_cast<int>(base::Code::CANCELLED));
  EXPECT_EQ(backend_.calls.load(), 1);
}

// containerd gets the caller's deadline less the time the decision took.
TEST_F(RelayTest, AHeldCallsDeadlineShrinksByTheDecisionTime) {
  StartBackend();
  decide_ = [](const HeldCall&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return Verdict();
  };
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CreateContainerResponse resp;
  grpc::Status s = stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // grpc rounds a sent timeout up (to 100 ms here), so not to the millisecond.
  EXPECT_LE(backend_.deadline_left_ms.load(), 19000) << "the decision's 1.5 s were not taken off";
  EXPECT_GT(backend_.deadline_left_ms.load(), 10000) << "far more than the decision was taken off";
}

// Drain: GOAWAY on every connection; the call in flight still gets its
// answer, and Run() returns once it has.
TEST_F(RelayTest, DrainLetsTheCallInFlightFinishThenRunReturns) {
  StartBackend();
  decide_ = [&](const HeldCall&) {
    held_.Hold();
    return Verdict();
  };
  StartRelay();
  std::atomic<bool> loop_done{false};
  // The fixture's loop thread runs Run(); watch for its return.
  std::thread watcher([&] {
    loop_.join();
    loop_done = true;
  });
  auto stub = Client();
  grpc::Status in_flight;
  std::thread caller([&] {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerResponse resp;
    in_flight = stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp);
  });
  ASSERT_TRUE(held_.WaitFor(1));
  relay_->Drain(std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(loop_done.load()) << "Run() returned with a call in flight";
  held_.Release();
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(backend_.calls.load(), 1);
  for (int i = 0; i < 500 && !loop_done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(loop_done.load()) << "Run() did not return once the calls ended";
  stop_accept_ = true;  // before the fixture stops the relay: nothing left to adopt
  watcher.join();
}

// A header block far over what any CRI call sends (HPACK makes that cheap
// to send): refused and audited, never kept or relayed.
TEST_F(RelayTest, AnOversizedHeaderBlockIsRefused) {
  StartBackend();
  StartRelay();
  auto stub = Client();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  // 80 KB: over the relay's 64 KiB, and still within the few CONTINUATION
  // frames nghttp2 itself allows before it drops the connection.
  for (int i = 0; i < 20; ++i) {
    ctx.AddMetadata("x-pad-" + std::to_string(i), std::string(4000, 'p'));
  }
  v1::VersionResponse resp;
  grpc::Status s = stub->Version(&ctx, v1::VersionRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("header block is over 65536 bytes"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(backend_.calls.load(), 0);
  auto refused = WaitForRefusals(1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].second.code(), base::Code::RESOURCE_EXHAUSTED);
}

// Held requests wait in crigate's memory: one connection's together are
// bounded (twice max_message_bytes), so a caller cannot pile up messages by
// opening streams faster than they are decided.
TEST_F(RelayTest, OneConnectionsHeldRequestsAreBoundedTogether) {
  StartBackend();
  decide_ = [&](const HeldCall&) {
    held_.Hold();
    return Verdict();
  };
  StartRelay(1 << 20);  // so 2 MiB for the connection
  auto stub = Client();
  v1::CreateContainerRequest req = CreateRequest("pod-1");
  (*req.mutable_config()->mutable_labels())["pad"] = std::string(900 << 10, 'p');
  std::vector<grpc::Status> first(2);
  std::vector<std::thread> callers;
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&, i] {
      grpc::ClientContext ctx;
      Deadline(&ctx);
      v1::CreateContainerResponse resp;
      first[i] = stub->CreateContainer(&ctx, req, &resp);
    });
  }
  ASSERT_TRUE(held_.WaitFor(2));
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerResponse resp;
    grpc::Status third = stub->CreateContainer(&ctx, req, &resp);
    EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
    EXPECT_NE(third.error_message().find("waiting for a decision"), std::string::npos)
        << third.error_message();
  }
  held_.Release();
  for (auto& t : callers) t.join();
  EXPECT_TRUE(first[0].ok()) << first[0].error_message();
  EXPECT_TRUE(first[1].ok()) << first[1].error_message();
  // Decided and relayed, they no longer count: the next one goes through.
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::CreateContainerResponse resp;
  EXPECT_TRUE(stub->CreateContainer(&ctx, req, &resp).ok());
  EXPECT_EQ(backend_.calls.load(), 3);
}

// A stand-in containerd that speaks raw HTTP/2 on a socketpair: it reads
// and drops what the relay sends, and answers what the test writes.
class RawBackend {
 public:
  int Connect() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fd_ = sv[1];
    reader_ = std::thread([this, fd = fd_] {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) received_ += static_cast<size_t>(n);
    });
    const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    Write(settings, sizeof(settings));
    return sv[0];
  }
  // Waits (up to 10 s) until the relay's first request HEADERS are in: more
  // than its preface (24 bytes) and its SETTINGS frame (9 + 6).
  bool WaitForRequest() {
    for (int i = 0; i < 1000 && received_.load() <= 24 + 15; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return received_.load() > 24 + 15;
  }
  // RST_STREAM on the relay's stream 1 (its first to containerd).
  void Reset(uint32_t code) {
    const unsigned char frame[13] = {0,
                                     0,
                                     4,
                                     3,
                                     0,
                                     0,
                                     0,
                                     0,
                                     1,
                                     static_cast<unsigned char>(code >> 24),
                                     static_cast<unsigned char>(code >> 16),
                                     static_cast<unsigned char>(code >> 8),
                                     static_cast<unsigned char>(code)};
    Write(frame, sizeof(frame));
  }
  ~RawBackend() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) close(fd_);
  }

 private:
  void Write(const unsigned char* data, size_t n) { ASSERT_EQ(write(fd_, data, n), ssize_t(n)); }
  int fd_ = -1;
  std::atomic<size_t> received_{0};
  std::thread reader_;
};

// Whether an allowed call's token use comes back hangs on this: only a
// refused stream says containerd did not run the call. Any other reset
// (grpc-go resets with CANCEL when the deadline passes, after the handler
// may have run) keeps the use used.
class ContainerdResetTest : public RelayTest {
 protected:
  // containerd resets the relayed call with `code`; what after is told.
  std::optional<CallEnd> EndAfterReset(uint32_t code) {
    RawBackend containerd;
    std::mutex mu;
    std::condition_variable cv;
    bool relayed = false;
    std::optional<CallEnd> seen;
    decide_ = [&](const HeldCall&) {
      Verdict v;
      v.after = [&](const CallEnd& end) {
        std::lock_guard<std::mutex> lock(mu);
        seen = CallEnd{end.answer, end.reached_backend, nullptr};
        cv.notify_all();
        return base::Status::OK();
      };
      std::lock_guard<std::mutex> lock(mu);
      relayed = true;
      cv.notify_all();
      return v;
    };
    StartRelay(16 << 20, [&] { return containerd.Connect(); });
    auto stub = Client();
    grpc::Status s;
    std::thread caller([&] {
      grpc::ClientContext ctx;
      Deadline(&ctx);
      v1::CreateContainerResponse resp;
      s = stub->CreateContainer(&ctx, CreateRequest("pod-1"), &resp);
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return relayed; });
    }
    EXPECT_TRUE(containerd.WaitForRequest());
    containerd.Reset(code);
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen.has_value(); });
    }
    caller.join();
    EXPECT_FALSE(s.ok()) << "the caller must see the reset";
    relay_->Stop();  // before `containerd` goes
    loop_.join();
    return seen;
  }
};

TEST_F(ContainerdResetTest, ARefusedStreamNeverRan) {
  std::optional<CallEnd> end = EndAfterReset(7);  // REFUSED_STREAM
  ASSERT_TRUE(end.has_value()) << "after did not run";
  EXPECT_FALSE(end->reached_backend);
  EXPECT_EQ(end->answer.code(), base::Code::UNAVAILABLE);
}

TEST_F(ContainerdResetTest, AnyOtherResetMayHaveRun) {
  std::optional<CallEnd> end = EndAfterReset(8);  // CANCEL
  ASSERT_TRUE(end.has_value()) << "after did not run";
  EXPECT_TRUE(end->reached_backend) << "a token's use would be given back for a call that ran";
  EXPECT_EQ(end->answer.code(), base::Code::CANCELLED);
}

// A caller speaking raw HTTP/2, for what a grpc++ client never does: go
// away in the middle of a request, or send more after a unary message.
class RawCaller {
 public:
  explicit RawCaller(const std::string& socket) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(4, 0, 0, ""));
  }
  ~RawCaller() { Close(); }
  bool connected() const { return connected_; }

  static std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                           const std::string& payload) {
    std::string f;
    const auto n = static_cast<uint32_t>(payload.size());
    f += static_cast<char>(n >> 16);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n);
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    for (int shift : {24, 16, 8, 0}) f += static_cast<char>((stream >> shift) & 0xff);
    return f + payload;
  }
  // A request header block: HPACK literals without indexing, no Huffman.
  static std::string Headers(uint32_t stream, const std::string& path) {
    std::string block;
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{":method", "POST"},
                                                          {":scheme", "http"},
                                                          {":path", path},
                                                          {"content-type", "application/grpc"},
                                                          {"te", "trailers"}}) {
      block += '\0';
      block += static_cast<char>(name.size());
      block += name;
      block += static_cast<char>(value.size());
      block += value;
    }
    return Frame(1, 0x4 /*END_HEADERS*/, stream, block);
  }
  void Send(const std::string& bytes) {
    if (fd_ >= 0) {
      EXPECT_EQ(write(fd_, bytes.data(), bytes.size()), ssize_t(bytes.size()));
    }
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The caller's connection closes with half a request sent: still one audit
// record, though no stream-close callback comes for it.
TEST_F(RelayTest, ACallerThatHangsUpMidRequestIsAudited) {
  StartBackend();
  StartRelay();
  RawCaller caller(front_socket_);
  ASSERT_TRUE(caller.connected());
  const std::string message = FrameMessage(CreateRequest("pod-1").SerializeAsString());
  caller.Send(RawCaller::Headers(1, "/runtime.v1.RuntimeService/CreateContainer") +
              RawCaller::Frame(0, 0, 1, message.substr(0, message.size() / 2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the relay has it
  caller.Close();
  auto refused = WaitForRefusals(1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].first.path, "/runtime.v1.RuntimeService/CreateContainer");
  EXPECT_EQ(refused[0].second.code(), base::Code::CANCELLED);
  EXPECT_EQ(backend_.calls.load(), 0);
}

// More DATA while the call is being decided: answered, never relayed, and
// not audited twice (the decision's record is the call's one record; its
// allow is undone when it comes back).
TEST_F(RelayTest, MoreDataDuringTheDecisionIsRefusedWithoutASecondRecord) {
  StartBackend();
  std::atomic<bool> undone{false};
  decide_ = [&](const HeldCall&) {
    held_.Hold();
    Verdict v;
    v.undo = [&] { undone = true; };
    return v;
  };
  StartRelay();
  RawCaller caller(front_socket_);
  ASSERT_TRUE(caller.connected());
  const std::string message = FrameMessage(CreateRequest("pod-1").SerializeAsString());
  caller.Send(RawCaller::Headers(1, "/runtime.v1.RuntimeService/CreateContainer") +
              RawCaller::Frame(0, 0, 1, message));
  ASSERT_TRUE(held_.WaitFor(1));
  caller.Send(RawCaller::Frame(0, 0x1 /*END_STREAM*/, 1, message));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  held_.Release();
  for (int i = 0; i < 200 && !undone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(undone.load());
  EXPECT_EQ(backend_.calls.load(), 0);
  std::lock_guard<std::mutex> lock(refused_mu_);
  EXPECT_TRUE(refused_.empty()) << refused_.size() << " extra audit records";
}

// Decisions run on workers: one connection may have at most 64 out at once
// (a caller resetting streams during their decisions must not queue work
// without end); the next held stream is refused and audited.
TEST_F(RelayTest, OneConnectionHasAtMost64DecisionsOut) {
  StartBackend();
  decide_ = [&](const HeldCall&) {
    held_.Hold();
    Verdict v;
    v.status = base::Status::PermissionDenied("crigate: no");
    return v;
  };
  StartRelay();
  RawCaller caller(front_socket_);
  ASSERT_TRUE(caller.connected());
  const std::string message = FrameMessage(CreateRequest("pod-1").SerializeAsString());
  for (uint32_t i = 0; i < 64; ++i) {
    caller.Send(RawCaller::Headers(2 * i + 1, "/runtime.v1.RuntimeService/CreateContainer") +
                RawCaller::Frame(0, 0x1 /*END_STREAM*/, 2 * i + 1, message));
  }
  ASSERT_TRUE(held_.WaitFor(64));
  caller.Send(RawCaller::Headers(129, "/runtime.v1.RuntimeService/CreateContainer") +
              RawCaller::Frame(0, 0x1 /*END_STREAM*/, 129, message));
  auto refused = WaitForRefusals(1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].second.code(), base::Code::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused[0].second.message().find("64 calls of this connection are being decided"),
            std::string::npos)
      << refused[0].second.message();
  EXPECT_EQ(held_.count(), 64) << "the 65th was decided too";
}

// Flow-control credit comes back on every stream, also after containerd
// closed it: thousands of answers on one connection, far past the 64 KiB
// connection window, never stall it.
TEST_F(RelayTest, OneConnectionCarriesThousandsOfCalls) {
  StartBackend();
  StartRelay();
  auto stub = Client();
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::VersionRequest req;
    req.set_version(std::string(100, 'v'));
    v1::VersionResponse resp;
    if (stub->Version(&ctx, req, &resp).ok()) ++ok;
    if (ok != i + 1) break;
  }
  EXPECT_EQ(ok, 3000);
  for (int i = 0; i < 60; ++i) {  // and held ones, whose bytes are credited on arrival
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::CreateContainerRequest req = CreateRequest("pod-1");
    (*req.mutable_config()->mutable_labels())["pad"] = std::string(4096, 'p');
    v1::CreateContainerResponse resp;
    ASSERT_TRUE(stub->CreateContainer(&ctx, req, &resp).ok()) << i;
  }
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
