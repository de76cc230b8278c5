// What an operator asks of a running gate, against real containerd:
// grpc.health.v1 on crigate's own socket, and `crigate status`.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

constexpr char kHealthWatch[] = "/grpc.health.v1.Health/Watch";

class Operations : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ContainerdIsUp()); }
};

Ran CrigateStatus(const CrigateProcess& gate) {
  return RunProgram({CrigateBinary(), "status", "--config", gate.config_path()});
}

// A socket every local user may reach, so that an ordinary caller's calls
// reach the gate.
CrigateProcess::Options OpenSocket() {
  CrigateProcess::Options options;
  options.server_extra = "socket_mode = \"0666\"";
  return options;
}

bool Says(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `crigate status` once its output says `part` (the status file is
// rewritten every 2 s), or as it last was after 15 s.
Ran CrigateStatusOnceItSays(const CrigateProcess& gate, const std::string& part) {
  Ran status;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    status = CrigateStatus(gate);
    if (Says(status.out, part)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  return status;
}

TEST_F(Operations, HealthIsServingForEveryCallerWhileContainerdAnswers) {
  CrigateProcess gate(OpenSocket());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  for (uid_t as : {uid_t{0}, kNobody}) {
    const gid_t group = as == 0 ? 0 : kNogroup;
    EXPECT_EQ(ProbeAs(as, group, gate.socket(), "health"),
              std::make_pair(0, std::string("SERVING")))
        << as;
    EXPECT_EQ(ProbeAs(as, group, gate.socket(), "health", "runtime.v1.ImageService"),
              std::make_pair(0, std::string("SERVING")))
        << as;
  }
  // containerd's own services are not crigate's to vouch for.
  EXPECT_EQ(ProbeAs(0, 0, gate.socket(), "health", "containerd.services.tasks.v1.Tasks").first,
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  // Only Check is served: Watch is refused like any path crigate does not serve.
  EXPECT_EQ(ProbeRawAs(0, 0, gate.socket(), kHealthWatch, "").first,
            static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
  // A Check decides nothing on the node, so it leaves no audit record; the
  // refused Watch leaves one.
  std::vector<nlohmann::json> records = AuditRecords(gate);
  ASSERT_EQ(records.size(), 1u) << gate.Audit();
  EXPECT_EQ(records[0].value("method", ""), kHealthWatch) << gate.Audit();
}

TEST_F(Operations, HealthIsNotServingAndStatusSaysWhyWhileContainerdIsGone) {
  CrigateProcess::Options options;
  options.backend_socket = ScratchDir() + "/no-containerd.sock";
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  EXPECT_EQ(ProbeAs(0, 0, gate.socket(), "health"), std::make_pair(0, std::string("NOT_SERVING")));

  Ran status = CrigateStatusOnceItSays(gate, "DOES NOT ANSWER");
  EXPECT_EQ(status.code, 1) << status.out << status.err;
  EXPECT_TRUE(Says(status.out, "NOT SERVING: NOT_SERVING")) << status.out;
  EXPECT_TRUE(Says(status.out, "no-containerd.sock: DOES NOT ANSWER")) << status.out;
}

TEST_F(Operations, StatusShowsTheRunningDaemonItsDecisionsAndThenThatItStopped) {
  CrigateProcess gate(OpenSocket());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  ASSERT_EQ(ProbeAs(kNobody, kNogroup, gate.socket(), "remove-image", "busybox").first,
            static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));

  Ran status = CrigateStatusOnceItSays(gate, "1 denied");
  EXPECT_EQ(status.code, 0) << status.out << status.err;
  EXPECT_TRUE(Says(status.out, ": SERVING (health check on " + gate.socket())) << status.out;
  EXPECT_TRUE(Says(status.out, gate.config_path())) << status.out;
  EXPECT_TRUE(Says(status.out, ": answers (containerd ")) << status.out;
  EXPECT_TRUE(Says(status.out, "privilege 0 allowed, 1 denied, 0 errors")) << status.out;
  EXPECT_TRUE(Says(status.out, gate.audit_path())) << status.out;

  ASSERT_EQ(gate.Stop(), 0);
  status = CrigateStatus(gate);
  EXPECT_EQ(status.code, 1) << status.out;
  EXPECT_TRUE(Says(status.out, "NOT SERVING: no answer from " + gate.socket())) << status.out;
  EXPECT_TRUE(Says(status.out, "stopped at ")) << status.out;
}

}  // namespace
}  // namespace crigate::test
