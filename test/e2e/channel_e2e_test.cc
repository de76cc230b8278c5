// The cloud channel end to end: a real Mosquitto broker with TLS, client
// certificates and the per-gateway ACL (scripts/broker-up.sh), the real
// crigate as gateway gw-a, and Mosquitto's own clients as the cloud and as
// a second gateway, gw-b. Decisions are checked by asking containerd.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "test/cri_client.h"
#include "test/e2e/broker.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using namespace std::chrono_literals;
using grpc::StatusCode;
using nlohmann::json;

constexpr char kNode[] = "gw-a";

class ChannelE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto broker = Broker::ForNode(kNode, &why);
    ASSERT_TRUE(broker) << why;
    broker_ = std::move(*broker);
    dir_ = ScratchDir();
    ASSERT_TRUE(MakeBundleKey(dir_, "cloud-1", &why)) << why;
    ASSERT_EQ(mkdir((dir_ + "/token-keys").c_str(), 0755), 0);
    // Before any bundle: a trust store with no rule, which denies every image.
    WriteFile(dir_ + "/trust.toml", "# no rule yet: the cloud pushes them\n");
  }

  bool Keygen(const std::string& name) {
    return RunProgram({CrigateBinary(), "token", "keygen", "--type", "ed25519", "--out",
                       dir_ + "/" + name})
               .code == 0;
  }

  // A gateway whose trust store the cloud manages (PullImage is gated by
  // default, and judged by the trust store alone here).
  CrigateProcess::Options GateOptions() const {
    CrigateProcess::Options options;
    options.policy = fmt::format(
        "[trust]\nstore = \"{}/trust.toml\"\n"
        "[token]\nenabled = false\n[node]\nid = \"{}\"\n",
        dir_, kNode);
    options.body = broker_.ChannelSection(kNode, dir_ + "/cloud-keys", dir_ + "/state");
    return options;
  }

  // A trust store that lets the registry's busybox be pulled.
  std::string AllowRegistryBusybox() const {
    return fmt::format("[[rule]]\nname = \"registry-busybox\"\nimage = \"{}/crigate/busybox:*\"\n",
                       RegistryHost());
  }

  std::string Sign(uint64_t version, const std::string& trust, const std::string& key = "cloud-1",
                   const std::string& node = kNode) {
    const std::string file = fmt::format("{}/bundle-trust-{}.toml", dir_, version);
    WriteFile(file, trust);
    Ran signed_bundle =
        RunProgram({CrigateBinary(), "bundle", "sign", "--key", dir_ + "/" + key + ".key", "--node",
                    node, "--version", std::to_string(version), "--trust-store", file});
    EXPECT_EQ(signed_bundle.code, 0) << signed_bundle.err;
    return Trim(signed_bundle.out);
  }

  // The cloud publishes a bundle (retained, as the policy topic is).
  void Push(const std::string& bundle) {
    Ran pub = broker_.Publish(broker_.cloud(), broker_.Topic(kNode, "policy"), bundle, true);
    ASSERT_EQ(pub.code, 0) << pub.err;
  }

  // The cloud, subscribed to gw-a's acks and status. persistent: a session
  // the broker keeps, so that what is published while this subscriber is
  // reconnecting (after a broker restart) waits for it.
  std::unique_ptr<Subscriber> CloudListening(bool persistent = false) {
    static int n = 0;
    std::string id = fmt::format("cloud-e2e-{}-{}", getpid(), ++n);
    if (persistent) sessions_.push_back(id);
    return std::make_unique<Subscriber>(broker_, broker_.cloud(), id,
                                        std::vector<std::string>{broker_.Topic(kNode, "policy/ack"),
                                                                 broker_.Topic(kNode, "status")},
                                        /*clean=*/!persistent);
  }
  void TearDown() override {
    for (const auto& id : sessions_) broker_.EndSession(broker_.cloud(), id);
  }

  // Waits for crigate's count-th "online" (Reset cleared the retained
  // status): from then on the cloud's subscription sees every ack.
  void WaitOnline(const Subscriber& cloud, size_t count = 1) {
    ASSERT_TRUE(cloud.WaitFor(broker_.Topic(kNode, "status"), "\"online\"", count, 15s))
        << cloud.Log();
  }

  // The last ack's JSON once one contains needle.
  json WaitAck(const Subscriber& cloud, const std::string& needle, size_t count = 1) {
    const std::string topic = broker_.Topic(kNode, "policy/ack");
    EXPECT_TRUE(cloud.WaitFor(topic, needle, count, 15s)) << "no ack with " << needle;
    json last;
    for (const auto& [t, payload] : cloud.Messages()) {
      if (t == topic && payload.find(needle) != std::string::npos) last = json::parse(payload);
    }
    return last;
  }

  // Drops the registry image's name from containerd (only that name: the
  // CRI's RemoveImage would remove every name of the image, busybox:1.35
  // that other tests run included).
  void ForgetRegistryBusybox() {
    Ran rm = RunProgram({"/usr/bin/ctr", "--address", ContainerdSocket(), "-n", "k8s.io", "images",
                         "rm", RegistryBusybox()});
    ASSERT_TRUE(rm.code == 0 || rm.err.find("not found") != std::string::npos) << rm.err;
    for (int i = 0; i < 50 && ContainerdHasImage(RegistryBusybox()); ++i) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(ContainerdHasImage(RegistryBusybox()));
  }

  std::vector<json> BundleRecords(const CrigateProcess& gate) {
    std::vector<json> out;
    for (const json& r : AuditRecords(gate)) {
      if (r.value("type", "") == "policy_bundle") out.push_back(r);
    }
    return out;
  }

  Broker broker_;
  std::string dir_;
  std::vector<std::string> sessions_;
};

TEST_F(ChannelE2E, APushedBundleTurnsADeniedPullIntoAnAllowedOneWithNoCallDropped) {
  ForgetRegistryBusybox();
  auto cloud = CloudListening();
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);

  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("matches no trust rule"), std::string::npos)
      << s.error_message();
  EXPECT_FALSE(ContainerdHasImage(RegistryBusybox()));

  // Calls keep flowing through the gate while the policy is swapped.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_calls{0}, failed_calls{0};
  std::string first_failure;
  std::thread traffic([&] {
    CriClient busy(gate.socket());
    while (!stop) {
      v1::VersionResponse version;
      v1::ImageStatusResponse status;
      grpc::Status a = busy.Version(&version);
      grpc::Status b = busy.ImageStatus(kBusybox, &status);
      for (const grpc::Status& r : {a, b}) {
        if (r.ok()) {
          ++ok_calls;
        } else if (failed_calls++ == 0) {
          first_failure = r.error_message();
        }
      }
    }
  });

  const auto pushed = std::chrono::steady_clock::now();
  Push(Sign(1, AllowRegistryBusybox()));
  json ack = WaitAck(*cloud, "\"applied\"");
  const auto acked = std::chrono::steady_clock::now();
  EXPECT_EQ(ack.value("version", 0), 1);
  EXPECT_EQ(ack.value("in_force", 0), 1);
  EXPECT_EQ(ack.value("signed_by", ""), "cloud-1");
  // Publish to acknowledgement, on loopback (the ack is sent after the swap).
  RecordProperty(
      "publish_to_enforced_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(acked - pushed).count()));

  s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(ContainerdHasImage(RegistryBusybox()));

  stop = true;
  traffic.join();
  EXPECT_GT(ok_calls.load(), 0);
  EXPECT_EQ(failed_calls.load(), 0) << first_failure;

  std::vector<json> records = BundleRecords(gate);
  ASSERT_EQ(records.size(), 1u) << gate.Audit();
  EXPECT_EQ(records[0].value("result", ""), "applied");
  EXPECT_EQ(records[0].value("version", 0), 1);
  EXPECT_EQ(ReadFile(dir_ + "/trust.toml"), AllowRegistryBusybox());
  EXPECT_EQ(Trim(ReadFile(dir_ + "/state/policy-version")), "1");
}

TEST_F(ChannelE2E, ATamperedBundleIsRefusedAndThePolicyStays) {
  auto cloud = CloudListening();
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);
  Push(Sign(1, AllowRegistryBusybox()));
  ASSERT_EQ(WaitAck(*cloud, "\"applied\"").value("version", 0), 1);

  // Version 2 as signed, then its trust store swapped for "deny all" under
  // the same signature: what a broker or a man in the middle might try.
  std::string bundle = Sign(2, AllowRegistryBusybox());
  const size_t dot1 = bundle.find('.'), dot2 = bundle.find('.', dot1 + 1);
  std::string payload = bundle.substr(dot1 + 1, dot2 - dot1 - 1);
  Ran decoded = RunProgram({"/bin/sh", "-c",
                            "printf '%s' \"$0\" | tr '_-' '/+' | base64 -d 2>/dev/null; true",
                            payload + std::string((4 - payload.size() % 4) % 4, '=')});
  json body = json::parse(decoded.out);
  body["trust_store"] = "# emptied\n";
  Ran encoded = RunProgram(
      {"/bin/sh", "-c", "printf '%s' \"$0\" | base64 -w0 | tr '/+' '_-' | tr -d '='", body.dump()});
  Push(bundle.substr(0, dot1 + 1) + encoded.out + bundle.substr(dot2));

  json ack = WaitAck(*cloud, "\"refused\"");
  EXPECT_NE(ack.value("reason", "").find("bundle signature does not verify with key cloud-1"),
            std::string::npos)
      << ack.dump();
  EXPECT_EQ(ack.value("in_force", 0), 1);
  EXPECT_EQ(ReadFile(dir_ + "/trust.toml"), AllowRegistryBusybox());
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::vector<json> records = BundleRecords(gate);
  ASSERT_EQ(records.size(), 2u) << gate.Audit();
  EXPECT_EQ(records[1].value("result", ""), "refused");
  EXPECT_NE(gate.Log().find("cloud bundle v0 refused, version 1 stays in force"), std::string::npos)
      << gate.Log();
}

TEST_F(ChannelE2E, ABundleSignedByAnUnknownKeyIsRefused) {
  auto cloud = CloudListening();
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);
  ASSERT_TRUE(Keygen("stranger"));
  Push(Sign(1, AllowRegistryBusybox(), "stranger"));
  json ack = WaitAck(*cloud, "\"refused\"");
  EXPECT_NE(ack.value("reason", "").find("bundle kid 'stranger' names no configured key"),
            std::string::npos)
      << ack.dump();
  EXPECT_EQ(ack.value("in_force", -1), 0);
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  EXPECT_EQ(cri.PullImage(RegistryBusybox(), &pulled).error_code(), StatusCode::PERMISSION_DENIED);
}

TEST_F(ChannelE2E, ARollbackIsRefusedAlsoAfterARestart) {
  auto cloud = CloudListening();
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);
  const std::string old_bundle = Sign(1, "# v1: nothing allowed\n");
  Push(old_bundle);
  ASSERT_EQ(WaitAck(*cloud, "\"applied\"").value("version", 0), 1);
  Push(Sign(2, AllowRegistryBusybox()));
  ASSERT_EQ(WaitAck(*cloud, "\"applied\"", 2).value("version", 0), 2);

  // The old, validly signed bundle again (a replay), before and after a
  // restart of crigate.
  Push(old_bundle);
  json ack = WaitAck(*cloud, "\"refused\"");
  EXPECT_NE(ack.value("reason", "").find("bundle version 1 is older than version 2 in force"),
            std::string::npos)
      << ack.dump();
  gate.Stop();
  gate.Restart();
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud, 2);
  // At reconnect the broker hands over the retained (old) bundle again.
  ack = WaitAck(*cloud, "\"refused\"", 2);
  EXPECT_EQ(ack.value("in_force", 0), 2) << ack.dump();
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ChannelE2E, GatewayBCannotReadAsPolicyNorWriteAsTopics) {
  const std::string a_policy = broker_.Topic(kNode, "policy");
  const std::string a_events = broker_.Topic(kNode, "events");
  Push(Sign(1, AllowRegistryBusybox()));

  // gw-b subscribes to gw-a's policy topic: the broker delivers nothing,
  // while gw-a itself gets the retained bundle.
  std::vector<std::string> sub_b = {"/usr/bin/mosquitto_sub"};
  for (auto& a : broker_.ClientArgs("gw-b")) sub_b.push_back(a);
  for (std::string a : {"-t", a_policy.c_str(), "-C", "1", "-W", "2"}) sub_b.push_back(a);
  Ran b_read = RunProgram(sub_b);
  EXPECT_EQ(b_read.out, "") << "gw-b read gw-a's policy";
  std::vector<std::string> sub_a = {"/usr/bin/mosquitto_sub"};
  for (auto& a : broker_.ClientArgs(kNode)) sub_a.push_back(a);
  for (std::string a : {"-t", a_policy.c_str(), "-C", "1", "-W", "5"}) sub_a.push_back(a);
  Ran a_read = RunProgram(sub_a);
  EXPECT_NE(a_read.out.find("eyJ"), std::string::npos) << a_read.err;

  // gw-b publishes on gw-a's events topic, and forges a bundle on its policy
  // topic; then gw-a publishes its own event. The broker handles one
  // connection's publish before its PUBACK, so when gw-a's event has
  // arrived, gw-b's would have too.
  Subscriber cloud(broker_, broker_.cloud(), fmt::format("cloud-acl-{}", getpid()), {a_events},
                   true);
  Subscriber gateway_a(broker_, kNode, fmt::format("gw-a-acl-{}", getpid()), {a_policy}, true);
  ASSERT_TRUE(gateway_a.WaitFor(a_policy, "eyJ", 1, 5s)) << gateway_a.Log();
  EXPECT_EQ(broker_.Publish("gw-b", a_events, R"({"forged":"by gw-b"})", false).code, 0);
  EXPECT_EQ(broker_.Publish("gw-b", a_policy, "forged.by.gw-b", true).code, 0);
  EXPECT_EQ(broker_.Publish(kNode, a_events, R"({"sent":"by gw-a"})", false).code, 0);
  ASSERT_TRUE(cloud.WaitFor(a_events, "by gw-a", 1, 5s)) << cloud.Log();
  EXPECT_EQ(cloud.Count(a_events, "by gw-b"), 0u);
  EXPECT_EQ(gateway_a.Count(a_policy, "forged"), 0u);
  // And the retained bundle is still the cloud's.
  a_read = RunProgram(sub_a);
  EXPECT_NE(a_read.out.find("eyJ"), std::string::npos) << a_read.err;
}

TEST_F(ChannelE2E, AfterABrokerRestartItReconnectsAndTheRetainedPolicyStaysInForce) {
  auto cloud = CloudListening(/*persistent=*/true);
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);
  Push(Sign(1, AllowRegistryBusybox()));
  ASSERT_EQ(WaitAck(*cloud, "\"applied\"").value("version", 0), 1);

  ASSERT_TRUE(broker_.Stop());
  ASSERT_TRUE(broker_.Start());
  // crigate reconnects (a second "online"), and the broker, which kept the
  // retained bundle, hands it over again: already applied, nothing changes.
  EXPECT_TRUE(cloud->WaitFor(broker_.Topic(kNode, "status"), "\"online\"", 2, 20s))
      << gate.Log() << cloud->Log();
  json ack = WaitAck(*cloud, "\"already_applied\"");
  EXPECT_EQ(ack.value("in_force", 0), 1) << gate.Log();
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(BundleRecords(gate).size(), 1u) << gate.Audit();
  const std::string log = gate.Log();
  EXPECT_NE(log.find("cloud channel: connection to " + broker_.Address() + " lost"),
            std::string::npos)
      << log;
}

TEST_F(ChannelE2E, AGatewayKeyOthersCanReadStopsTheStartWithTheReason) {
  CrigateProcess::Options options = GateOptions();
  const std::string original = std::string(std::getenv("CRIGATE_BROKER_PKI")) + "/gw-a.key";
  const std::string loose = dir_ + "/gw-a.key";
  WriteFile(loose, ReadFile(original), 0644);
  const size_t at = options.body.find(original);
  ASSERT_NE(at, std::string::npos) << options.body;
  options.body.replace(at, original.size(), loose);
  CrigateProcess gate(options);
  EXPECT_FALSE(gate.WaitReady());
  const std::string log = gate.Log();
  EXPECT_NE(log.find("channel.key_file: " + loose), std::string::npos) << log;
  EXPECT_NE(log.find("has mode 0644: group and others must have no access"), std::string::npos)
      << log;
}

TEST_F(ChannelE2E, AUsernameAndPasswordLoginGetsBundlesToo) {
  // scripts/test.sh starts the broker with CRIGATE_BROKER_PASSWORDS=1: a
  // second TLS listener where a client logs in with a password instead of a
  // certificate, under the same ACL.
  const char* port = std::getenv("CRIGATE_BROKER_PASSWORD_PORT");
  const char* passwords = std::getenv("CRIGATE_BROKER_PASSWORD_DIR");
  ASSERT_TRUE(port && passwords) << "the broker was started without CRIGATE_BROKER_PASSWORDS=1";
  CrigateProcess::Options options = GateOptions();
  options.body =
      fmt::format(R"([channel]
enabled = true
host = "localhost"
port = {}
ca_file = "{}"
username = "{}"
password_file = "{}/{}"
reconnect_min_ms = 100
reconnect_max_ms = 500
bundle_keys = ["{}/cloud-keys"]
state_dir = "{}/state"
)",
                  port, std::getenv("CRIGATE_BROKER_CA"), kNode, passwords, kNode, dir_, dir_);
  auto cloud = CloudListening();
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  WaitOnline(*cloud);
  Push(Sign(1, AllowRegistryBusybox()));
  EXPECT_EQ(WaitAck(*cloud, "\"applied\"").value("version", 0), 1) << gate.Log();
  CriClient cri(gate.socket());
  v1::PullImageResponse pulled;
  grpc::Status s = cri.PullImage(RegistryBusybox(), &pulled);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ChannelE2E, ABrokerThatNeverAnswersHoldsUpNeitherTheStartNorASigterm) {
  // A loopback port whose listener never accepts and whose accept queue is
  // full: the kernel drops crigate's SYN, as a broker behind a dead route
  // would (a blocking connect waits out the kernel's SYN retries, about two
  // minutes); and were a connection taken, nothing would answer TLS.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    (void)connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }
  CrigateProcess::Options options = GateOptions();
  const std::string port_line =
      "port = " + broker_.Address().substr(broker_.Address().rfind(':') + 1);
  const size_t at = options.body.find(port_line);
  ASSERT_NE(at, std::string::npos) << options.body;
  options.body.replace(at, port_line.size(), "port = " + std::to_string(ntohs(addr.sin_port)));
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  // Calls are served while the channel waits for its broker.
  CriClient cri(gate.socket());
  v1::VersionResponse version;
  EXPECT_TRUE(cri.Version(&version).ok());
  std::this_thread::sleep_for(300ms);  // the connection attempt is under way
  // A hang, not a speed: a blocking TLS handshake would never return.
  const int status = gate.StopWithin(15s);
  EXPECT_NE(status, -1) << "crigate did not exit within 15 s of SIGTERM\n" << gate.Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << gate.Log();
  for (int fd : fillers) close(fd);
  close(listener);
}

}  // namespace
}  // namespace crigate::test
