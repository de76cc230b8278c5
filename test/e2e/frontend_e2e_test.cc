// The front end against real containerd and runc: crigate must be invisible
// to what it lets through.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "cri_subset.grpc.pb.h"
#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

class FrontEnd : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ContainerdIsUp()); }
};

TEST_F(FrontEnd, VersionAndStatusMatchContainerd) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient through(gate.socket()), direct(ContainerdSocket());
  v1::VersionResponse a, b;
  ASSERT_TRUE(through.Version(&a).ok());
  ASSERT_TRUE(direct.Version(&b).ok());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(a.runtime_name(), "containerd");
  v1::StatusResponse s;
  ASSERT_TRUE(through.Status(&s).ok());
  bool runtime_ready = false;
  for (const auto& c : s.status().conditions()) {
    if (c.type() == "RuntimeReady") runtime_ready = c.status();
  }
  EXPECT_TRUE(runtime_ready);
}

TEST_F(FrontEnd, WithJsonLogsEveryLineIsAnObjectWithTimeLevelAndMessage) {
  CrigateProcess::Options options;
  options.body = "[log]\nformat = \"json\"\nlevel = \"debug\"\n";
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  v1::VersionResponse version;
  ASSERT_TRUE(cri.Version(&version).ok());
  // A refusal whose reason quotes what the caller sent: a path with a quote.
  EXPECT_EQ(ProbeRawAs(0, 0, gate.socket(), "/runtime.v1.RuntimeService/Ver\"sion", "").first,
            static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
  ASSERT_EQ(gate.Stop(), 0);
  std::istringstream lines(gate.Log());
  int objects = 0;
  bool listening = false, refusal = false;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(object.is_object()) << line;
    ASSERT_EQ(object.size(), 3u) << line;
    EXPECT_TRUE(object["time"].is_string() && object["level"].is_string() &&
                object["message"].is_string())
        << line;
    const std::string message = object["message"];
    listening = listening || message.find("crigate listening on") == 0;
    refusal = refusal || message.find("Ver\"sion") != std::string::npos;
    ++objects;
  }
  EXPECT_GT(objects, 2);
  EXPECT_TRUE(listening) << gate.Log();
  EXPECT_TRUE(refusal) << gate.Log();
}

// What kubelet sees while crigate restarts (README, "kubelet and crigate
// restarts"): callers hammering the socket through a SIGTERM and a new start
// get an answer or UNAVAILABLE, at once; no call hangs until its deadline,
// and the same clients are served again once crigate is back.
TEST_F(FrontEnd, ARestartUnderLoadAnswersEveryCallOrFailsItUnavailableAtOnce) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  constexpr auto kDeadline = std::chrono::seconds(2);
  struct Tally {
    int ok = 0, ok_after_restart = 0, unavailable = 0, other = 0;
    std::chrono::milliseconds slowest{0};
    std::string other_reason;
  };
  std::atomic<bool> stop{false}, restarted{false};
  std::vector<Tally> tallies(4);
  std::vector<std::thread> callers;
  for (auto& tally : tallies) {
    callers.emplace_back([&, t = &tally] {
      CriClient cri(gate.socket(), kDeadline);
      while (!stop) {
        const bool after = restarted;
        const auto start = std::chrono::steady_clock::now();
        v1::VersionResponse version;
        v1::ListContainersResponse containers;
        grpc::Status s = (t->ok % 2 == 0) ? cri.Version(&version) : cri.ListContainers(&containers);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        t->slowest = std::max(t->slowest, took);
        if (s.ok()) {
          ++t->ok;
          if (after) ++t->ok_after_restart;
        } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++t->unavailable;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // as a client backs off
        } else if (t->other++ == 0) {
          t->other_reason = s.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(gate.Stop(), 0) << gate.Log();
  gate.Restart();
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  restarted = true;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& c : callers) c.join();

  int unavailable = 0;
  for (const Tally& t : tallies) {
    EXPECT_EQ(t.other, 0) << t.other_reason;
    EXPECT_GT(t.ok_after_restart, 0) << "a caller was not served again after the restart";
    // A deadline is 2 s; a call that waited for it would have hung.
    EXPECT_LT(t.slowest, kDeadline) << "a call took " << t.slowest.count() << " ms";
    unavailable += t.unavailable;
  }
  RecordProperty("unavailable_calls", unavailable);
}

TEST_F(FrontEnd, PullImageFromLocalRegistryThenStatusAndList) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pulled.image_ref().rfind("sha256:", 0), 0u) << pulled.image_ref();
  v1::ImageStatusResponse status;
  ASSERT_TRUE(cri.ImageStatus(RegistryBusybox(), &status).ok());
  EXPECT_EQ(status.image().id(), pulled.image_ref());
  v1::ListImagesResponse list;
  ASSERT_TRUE(cri.ListImages(&list).ok());
  bool found = false;
  for (const auto& image : list.images()) {
    for (const auto& tag : image.repo_tags()) found = found || tag == RegistryBusybox();
  }
  EXPECT_TRUE(found);
}

TEST_F(FrontEnd, HostNetworkPodLifecycle) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("lifecycle", gate.dir());
  std::string pod_id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_FALSE(pod_id.empty());

  std::string id;
  s = cri.CreateContainer(pod_id, Container("sleeper", kBusybox, {"sleep", "3600"}), pod, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = cri.StartContainer(id);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::ExecSyncResponse exec;
  s = cri.ExecSync(id, {"sh", "-c", "echo hello from $((6 * 7))"}, &exec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(exec.exit_code(), 0);
  EXPECT_EQ(exec.stdout(), "hello from 42\n");

  v1::ExecSyncResponse failing;
  ASSERT_TRUE(cri.ExecSync(id, {"sh", "-c", "echo oops >&2; exit 3"}, &failing).ok());
  EXPECT_EQ(failing.exit_code(), 3);
  EXPECT_EQ(failing.stderr(), "oops\n");

  v1::ContainerStatusResponse status;
  ASSERT_TRUE(cri.ContainerStatus(id, &status).ok());
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(status.status().metadata().name(), "sleeper");
  EXPECT_GT(status.status().started_at(), 0);

  v1::ContainerStatsResponse stats;
  s = cri.ContainerStats(id, &stats);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stats.stats().attributes().id(), id);
  EXPECT_GT(stats.stats().memory().working_set_bytes().value(), 0u);

  ASSERT_TRUE(cri.StopContainer(id, 2).ok());
  ASSERT_TRUE(cri.ContainerStatus(id, &status).ok());
  EXPECT_EQ(status.status().state(), v1::CONTAINER_EXITED);
  ASSERT_TRUE(cri.RemoveContainer(id).ok());
  EXPECT_EQ(cri.ContainerStatus(id, &status).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(cri.StopPodSandbox(pod_id).ok());
  ASSERT_TRUE(cri.RemovePodSandbox(pod_id).ok());
}

TEST_F(FrontEnd, UnknownCriMethodGetsContainerdsOwnAnswerAndOtherServicesCrigates) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient through(gate.socket()), direct(ContainerdSocket());
  const std::string method = "/runtime.v1.RuntimeService/NoSuchMethodYet";
  grpc::Status a = through.RawCall(method, "", nullptr);
  grpc::Status b = direct.RawCall(method, "", nullptr);
  EXPECT_EQ(a.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(a.error_code(), b.error_code());
  EXPECT_EQ(a.error_message(), b.error_message());
  // A service that is not the CRI is answered by crigate itself and audited:
  // containerd's whole API sits behind the same socket.
  grpc::Status c = through.RawCall("/runtime.v9.FutureService/Anything", "", nullptr);
  EXPECT_EQ(c.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(c.error_message().find("crigate: /runtime.v9.FutureService/Anything is not served"),
            std::string::npos)
      << c.error_message();
  EXPECT_NE(gate.Audit().find("/runtime.v9.FutureService/Anything"), std::string::npos);
}

TEST_F(FrontEnd, V1Alpha2PassesThrough) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient through(gate.socket()), direct(ContainerdSocket());
  v1::VersionRequest req;
  req.set_version("v1alpha2");
  std::string a, b;
  grpc::Status sa =
      through.RawCall("/runtime.v1alpha2.RuntimeService/Version", req.SerializeAsString(), &a);
  grpc::Status sb =
      direct.RawCall("/runtime.v1alpha2.RuntimeService/Version", req.SerializeAsString(), &b);
  EXPECT_EQ(sa.error_code(), sb.error_code());
  EXPECT_EQ(a, b);
}

// GetContainerEvents is server-streaming. containerd 1.6 does not implement
// it; whatever containerd says must reach the caller unchanged, stream or not.
grpc::Status ReadEvents(const std::string& socket, int* messages) {
  CriClient cri(socket);
  auto stub = v1::RuntimeService::NewStub(cri.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  auto reader = stub->GetContainerEvents(&ctx, v1::GetEventsRequest());
  v1::ContainerEventResponse event;
  *messages = 0;
  while (reader->Read(&event)) ++*messages;
  return reader->Finish();
}

TEST_F(FrontEnd, ServerStreamingMethodMatchesContainerd) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  int through_messages = -1, direct_messages = -1;
  grpc::Status through = ReadEvents(gate.socket(), &through_messages);
  grpc::Status direct = ReadEvents(ContainerdSocket(), &direct_messages);
  EXPECT_EQ(through.error_code(), direct.error_code());
  EXPECT_EQ(through.error_message(), direct.error_message());
  EXPECT_EQ(through_messages, direct_messages);
}

// Appends field `number` (length-delimited) to a message's unknown fields.
void AppendLengthDelimited(std::string* unknown, int number, const std::string& bytes) {
  auto varint = [&](uint64_t v) {
    while (v >= 0x80) {
      unknown->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    unknown->push_back(static_cast<char>(v));
  };
  varint((static_cast<uint64_t>(number) << 3) | 2);
  varint(bytes.size());
  unknown->append(bytes);
}

TEST_F(FrontEnd, FieldsTheSubsetDoesNotKnowArriveIntact) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("unknown-fields", gate.dir());
  std::string pod_id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok());

  // ContainerConfig.envs (field 6, KeyValue{key=1, value=2}) is not in the
  // subset: the gate parses this request, and must forward its bytes as sent.
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  *req.mutable_config() = Container("env", kBusybox, {"sleep", "3600"});
  *req.mutable_sandbox_config() = pod;
  std::string kv;
  AppendLengthDelimited(&kv, 1, "CRIGATE_PROBE");
  AppendLengthDelimited(&kv, 2, "arrived-intact");
  std::string config = req.config().SerializeAsString();
  AppendLengthDelimited(&config, 6, kv);
  ASSERT_TRUE(req.mutable_config()->ParseFromString(config));  // kept as an unknown field

  std::string id;
  grpc::Status s = cri.CreateContainer(req, &id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(cri.StartContainer(id).ok());
  v1::ExecSyncResponse exec;
  ASSERT_TRUE(cri.ExecSync(id, {"sh", "-c", "echo $CRIGATE_PROBE"}, &exec).ok());
  EXPECT_EQ(exec.stdout(), "arrived-intact\n");
  cri.StopContainer(id, 0);
  cri.RemoveContainer(id);
  cri.StopPodSandbox(pod_id);
  cri.RemovePodSandbox(pod_id);
}

TEST_F(FrontEnd, DeadlineIsForwarded) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("deadline", gate.dir());
  std::string pod_id, id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok());
  ASSERT_TRUE(
      cri.CreateContainer(pod_id, Container("c", kBusybox, {"sleep", "3600"}), pod, &id).ok());
  ASSERT_TRUE(cri.StartContainer(id).ok());
  CriClient hasty(gate.socket(), std::chrono::milliseconds(500));
  v1::ExecSyncResponse exec;
  EXPECT_EQ(hasty.ExecSync(id, {"sleep", "5"}, &exec, 0).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The gate is still serving.
  v1::VersionResponse v;
  EXPECT_TRUE(cri.Version(&v).ok());
  cri.StopContainer(id, 0);
  cri.RemoveContainer(id);
  cri.StopPodSandbox(pod_id);
  cri.RemovePodSandbox(pod_id);
}

TEST_F(FrontEnd, TwoCallersWithDifferentUidsAreToldApart) {
  // Open the socket to every user so an unprivileged uid can connect.
  CrigateProcess open_gate({"", "socket_mode = \"0666\"", ""});
  ASSERT_TRUE(open_gate.WaitReady()) << open_gate.Log();

  const std::string image = "docker.io/library/crigate-no-such-image:never";
  auto as_root = ProbeAs(0, 0, open_gate.socket(), "remove-image", image);
  auto as_nobody = ProbeAs(65534, 65534, open_gate.socket(), "remove-image", image);
  // Root is a super user: the call reaches containerd (which removes nothing).
  EXPECT_EQ(as_root.first, 0) << as_root.second;
  // uid 65534 is an ordinary caller of a gated method: refused by the gate.
  EXPECT_EQ(as_nobody.first, static_cast<int>(grpc::StatusCode::PERMISSION_DENIED))
      << as_nobody.second;
  EXPECT_NE(as_nobody.second.find("65534"), std::string::npos) << as_nobody.second;
  EXPECT_NE(as_nobody.second.find("RemoveImage"), std::string::npos) << as_nobody.second;
  std::string log = open_gate.Log();
  EXPECT_NE(log.find("allow RemoveImage uid=0 gid=0"), std::string::npos) << log;
  EXPECT_NE(log.find("deny RemoveImage uid=65534 gid=65534"), std::string::npos) << log;
  // Both read-only: Version stays open to every caller that can reach the socket.
  EXPECT_EQ(ProbeAs(65534, 65534, open_gate.socket(), "version").first, 0);
  std::string audit = open_gate.Audit();
  EXPECT_NE(audit.find("\"uid\":65534"), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"uid\":0"), std::string::npos) << audit;
}

TEST_F(FrontEnd, ContainerdDownThenUp) {
  // Point crigate at a socket path where nothing listens yet.
  std::string dir = ScratchDir();
  std::string backend = dir + "/late-containerd.sock";
  CrigateProcess gate({"", "", backend});
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket(), std::chrono::seconds(5));
  v1::VersionResponse v;
  grpc::Status s = cri.Version(&v);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("containerd is unavailable at unix://" + backend),
            std::string::npos)
      << s.error_message();

  // containerd "comes up" at that path: crigate reconnects by itself.
  ASSERT_EQ(symlink(ContainerdSocket().c_str(), backend.c_str()), 0);
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = cri.Version(&v).ok();
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(recovered) << gate.Log();
  EXPECT_EQ(v.runtime_name(), "containerd");
}

TEST_F(FrontEnd, MalformedBodiesAreRefusedWithoutCrash) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  const std::string garbage("\xff\xff\xff\xff\x0f\x12\x80", 7);
  // A gated method: the gate cannot read it, so it refuses it itself.
  grpc::Status gated = cri.RawCall("/runtime.v1.RuntimeService/RunPodSandbox", garbage, nullptr);
  EXPECT_EQ(gated.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(gated.error_message().find("RunPodSandbox"), std::string::npos);
  // Refused before any stage ran, and still on the record.
  std::string audit = gate.Audit();
  EXPECT_NE(audit.find("RunPodSandbox"), std::string::npos) << audit;
  EXPECT_NE(audit.find("INVALID_ARGUMENT"), std::string::npos) << audit;
  // A passthrough method: containerd's own answer comes back.
  CriClient direct(ContainerdSocket());
  grpc::Status a = cri.RawCall("/runtime.v1.RuntimeService/ContainerStatus", garbage, nullptr);
  grpc::Status b = direct.RawCall("/runtime.v1.RuntimeService/ContainerStatus", garbage, nullptr);
  EXPECT_FALSE(a.ok());
  EXPECT_EQ(a.error_code(), b.error_code());
  // A gated call with no message at all.
  v1::VersionResponse v;
  ASSERT_TRUE(cri.Version(&v).ok()) << "crigate stopped answering: " << gate.Log();
  EXPECT_EQ(waitpid(gate.pid(), nullptr, WNOHANG), 0) << "crigate exited";
}

TEST_F(FrontEnd, BrokenConfigExitsNonZeroNamingTheKey) {
  std::string dir = ScratchDir();
  std::string path = dir + "/bad.toml";
  std::ofstream(path) << "[server]\nsocket_mode = \"0999\"\n[backend]\nendpoint = \"tcp://x\"\n";
  auto [code, out] = RunCrigateOnce(path);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("server.socket_mode"), std::string::npos) << out;
  EXPECT_NE(out.find("backend.endpoint"), std::string::npos) << out;

  std::ofstream(path) << "[serverr]\n";
  auto [code2, out2] = RunCrigateOnce(path);
  EXPECT_EQ(code2, 2);
  EXPECT_NE(out2.find("serverr: unknown section"), std::string::npos) << out2;

  std::ofstream(path) << "[server\n";
  auto [code3, out3] = RunCrigateOnce(path);
  EXPECT_EQ(code3, 2);
  EXPECT_NE(out3.find(path + ":1:"), std::string::npos) << out3;
}

TEST_F(FrontEnd, SigtermDrainsAndRemovesTheSocket) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  int status = gate.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  struct stat st;
  EXPECT_NE(stat(gate.socket().c_str(), &st), 0) << "socket file left behind";
  EXPECT_NE(gate.Log().find("crigate stopped"), std::string::npos);
}

// SIGTERM while a call runs: that call still gets containerd's answer (the
// event loop sends GOAWAY, waits for the stream, and closes a connection
// only once its last bytes are written), and crigate then exits cleanly.
// The grpc++ proxy (server.front_end = "grpc") does not pass this reliably:
// grpc++ may close the connection before the caller has read the answer
// (seen once in five runs as "Broken pipe"), so only its lifecycle is
// checked below.
TEST_F(FrontEnd, SigtermLetsTheCallInFlightFinish) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("drain", gate.dir());
  std::string pod_id, id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok()) << gate.Log();
  ASSERT_TRUE(
      cri.CreateContainer(pod_id, Container("c", kBusybox, {"sleep", "3600"}), pod, &id).ok());
  ASSERT_TRUE(cri.StartContainer(id).ok());

  grpc::Status in_flight;
  v1::ExecSyncResponse exec;
  std::thread caller([&] {
    in_flight = cri.ExecSync(id, {"sh", "-c", "sleep 2; echo done"}, &exec, 10);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // the exec is running
  const int status = gate.Stop();
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_code() << ": " << in_flight.error_message() << "\n"
                              << gate.Log();
  EXPECT_EQ(exec.stdout(), "done\n");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(gate.Log().find("draining in-flight calls"), std::string::npos) << gate.Log();

  // Cleaned up straight at containerd: the gate is gone.
  CriClient direct(ContainerdSocket());
  direct.StopContainer(id, 0);
  direct.RemoveContainer(id);
  direct.StopPodSandbox(pod_id);
  direct.RemovePodSandbox(pod_id);
}

// The grpc++ proxy, kept as server.front_end = "grpc": a pod's whole life
// through it, outcome checked at containerd.
TEST_F(FrontEnd, TheGrpcProxyStillServesAPodsLife) {
  CrigateProcess gate({"", "front_end = \"grpc\"", ""});
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  EXPECT_NE(gate.Log().find("grpc++ front end"), std::string::npos) << gate.Log();
  CriClient cri(gate.socket());
  auto pod = HostNetworkPod("grpc-proxy", gate.dir());
  std::string pod_id, id;
  ASSERT_TRUE(cri.RunPodSandbox(pod, &pod_id).ok()) << gate.Log();
  ASSERT_TRUE(
      cri.CreateContainer(pod_id, Container("c", kBusybox, {"sleep", "3600"}), pod, &id).ok());
  ASSERT_TRUE(cri.StartContainer(id).ok());
  v1::ExecSyncResponse exec;
  ASSERT_TRUE(cri.ExecSync(id, {"echo", "through-grpc"}, &exec, 10).ok());
  EXPECT_EQ(exec.stdout(), "through-grpc\n");
  CriClient direct(ContainerdSocket());
  v1::ContainerStatusResponse status;
  ASSERT_TRUE(direct.ContainerStatus(id, &status).ok());
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
  EXPECT_TRUE(cri.StopContainer(id, 0).ok());
  EXPECT_TRUE(cri.RemoveContainer(id).ok());
  EXPECT_TRUE(cri.StopPodSandbox(pod_id).ok());
  EXPECT_TRUE(cri.RemovePodSandbox(pod_id).ok());
}

TEST_F(FrontEnd, SocketHasConfiguredMode) {
  CrigateProcess gate;
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  struct stat st;
  ASSERT_EQ(stat(gate.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

}  // namespace
}  // namespace crigate::test
