// The watchdog against real containerd and runc, on this host's real cgroups
// (v1 hybrid here): a container over its CPU threshold is stopped, the most
// recently started one first, and a restart of crigate finds them again.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "test/cri_client.h"
#include "test/e2e/broker.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using namespace std::chrono_literals;

class Monitor : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(stat(ContainerdSocket().c_str(), &st), 0) << "containerd is not running";
  }
  void TearDown() override { RemoveFromContainerd(containers_, pods_); }

  // Runs config in a pod of its own (host network, pod_namespace) and starts it.
  std::string StartInOwnPod(CriClient& cri, const std::string& name,
                            const v1::ContainerConfig& config, const std::string& log_dir,
                            const std::string& pod_namespace = "default") {
    auto pod = HostNetworkPod(name, log_dir);
    pod.mutable_metadata()->set_namespace_(pod_namespace);
    std::string pod_id, id;
    grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    pods_.push_back(pod_id);
    s = cri.CreateContainer(pod_id, config, pod, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    containers_.push_back(id);
    s = cri.StartContainer(id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  // A container running `command` with a memory limit.
  std::string StartWithMemoryLimit(CriClient& cri, const std::string& name,
                                   const std::vector<std::string>& command, int64_t limit,
                                   const std::string& log_dir) {
    auto config = Container(name, kBusybox, command);
    config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(limit);
    return StartInOwnPod(cri, name, config, log_dir);
  }

  // A container limited to half a CPU; burn: spin, else sleep.
  std::string StartHalfCpu(CriClient& cri, const std::string& name, bool burn,
                           const std::string& log_dir,
                           const std::map<std::string, std::string>& labels = {},
                           const std::string& pod_namespace = "default") {
    auto config = burn ? Container(name, kBusybox, {"sh", "-c", "while :; do :; done"})
                       : Container(name, kBusybox, {"sleep", "3600"});
    for (const auto& [k, v] : labels) (*config.mutable_labels())[k] = v;
    auto* res = config.mutable_linux()->mutable_resources();
    res->set_cpu_period(100000);
    res->set_cpu_quota(50000);
    return StartInOwnPod(cri, name, config, log_dir, pod_namespace);
  }

  static v1::ContainerState State(CriClient& cri, const std::string& id) {
    v1::ContainerStatusResponse status;
    if (!cri.ContainerStatus(id, &status).ok()) return v1::CONTAINER_UNKNOWN;
    return status.status().state();
  }

  // Waits until id has exited (true) or the time is up (false).
  static bool WaitExited(CriClient& cri, const std::string& id, std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (State(cri, id) == v1::CONTAINER_EXITED) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  std::vector<std::string> pods_, containers_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(Monitor, StopsTheBurnerAndLeavesTheQuietContainerRunning) {
  // The cloud side: the reference authorizer, allowing every call and
  // keeping the events it receives.
  std::string dir = ScratchDir();
  std::ofstream(dir + "/rules.toml") << "default = { allow = true, reason = \"monitor test\" }\n";
  std::ofstream(dir + "/node.key") << "0123456789abcdef0123456789abcdef\n";
  ASSERT_EQ(chmod((dir + "/node.key").c_str(), 0600), 0);
  AuthzProcess cloud(
      {dir + "/rules.toml", dir + "/node.key", dir + "/events.jsonl", dir + "/authz.log"});
  ASSERT_TRUE(cloud.WaitReady()) << cloud.Log();

  CrigateProcess::Options options;
  options.monitor = true;
  options.body = std::string(kBurnerMonitorConfig) + "[cloud]\nenabled = true\nurl = \"" +
                 cloud.Url("/v1/data/crigate/allow") + "\"\nevents_url = \"" +
                 cloud.Url("/v1/events") + "\"\nnode_key_file = \"" + dir + "/node.key\"\n";
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());

  std::string quiet = StartHalfCpu(cri, "quiet", false, gate.dir());
  std::string burner = StartHalfCpu(cri, "burner", true, gate.dir());

  ASSERT_TRUE(WaitExited(cri, burner, 30s)) << gate.Log();
  EXPECT_EQ(State(cri, quiet), v1::CONTAINER_RUNNING);
  std::string log = gate.Log();
  EXPECT_NE(log.find("monitor stopped " + burner.substr(0, 12)), std::string::npos) << log;
  EXPECT_EQ(log.find("monitor stopped " + quiet.substr(0, 12)), std::string::npos) << log;
  // One audit line for the stop, naming the container and the resource.
  std::vector<std::string> stops;
  std::istringstream audit(gate.Audit());
  for (std::string line; std::getline(audit, line);) {
    if (line.find("\"type\":\"monitor_stop\"") != std::string::npos) stops.push_back(line);
  }
  ASSERT_EQ(stops.size(), 1u) << gate.Audit();
  EXPECT_NE(stops[0].find("\"container_id\":\"" + burner + "\""), std::string::npos) << stops[0];
  EXPECT_NE(stops[0].find("\"resource\":\"cpu\""), std::string::npos) << stops[0];
  // And one event at the cloud's event endpoint (sent from a queue: poll).
  std::string events;
  for (int i = 0; i < 100; ++i) {
    events = ReadAll(dir + "/events.jsonl");
    if (events.find(burner) != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(events.find("monitor_stop"), std::string::npos) << events << cloud.Log();
  EXPECT_NE(events.find(burner), std::string::npos) << events;
  EXPECT_EQ(events.find(quiet), std::string::npos) << events;
}

TEST_F(Monitor, AfterARestartTheMostRecentlyStartedIsStoppedFirst) {
  // Both containers burn; they are started while no watchdog runs.
  CrigateProcess plain;
  ASSERT_TRUE(plain.WaitReady()) << plain.Log();
  CriClient first(plain.socket());
  std::string older = StartHalfCpu(first, "older", true, plain.dir());
  std::this_thread::sleep_for(1s);  // distinct started_at
  std::string newer = StartHalfCpu(first, "newer", true, plain.dir());
  plain.Stop();

  // A fresh crigate learns of them only from containerd.
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = kBurnerMonitorConfig;
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  ASSERT_TRUE(WaitExited(cri, newer, 30s)) << gate.Log();
  // The cool-down holds the next stop: the older one still runs.
  EXPECT_EQ(State(cri, older), v1::CONTAINER_RUNNING) << gate.Log();
  EXPECT_EQ(gate.Log().find("monitor stopped " + older.substr(0, 12)), std::string::npos);
}

TEST_F(Monitor, ProtectedContainerIsNeverStopped) {
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = kBurnerMonitorConfig;
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());

  std::string id =
      StartHalfCpu(cri, "protected", true, gate.dir(), {{"crigate.io/protected", "true"}});
  // Long enough for several breaches' worth of samples.
  EXPECT_FALSE(WaitExited(cri, id, 5s)) << gate.Log();
}

// Whose a container is comes from its pod sandbox in containerd; kubelet's
// labels are the caller's to set.
TEST_F(Monitor, ProtectionFollowsThePodsRealNamespaceNotItsLabels) {
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = kBurnerMonitorConfig;
  options.body.replace(options.body.find("protected_namespaces = []"), 25,
                       "protected_namespaces = [\"kube-system\"]");
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());

  // A burner in a kube-system pod that carries none of kubelet's labels.
  std::string system = StartHalfCpu(cri, "system", true, gate.dir(), {}, "kube-system");
  EXPECT_FALSE(WaitExited(cri, system, 5s)) << "a kube-system pod without labels was stopped";
  // A burner in "default" whose label claims kube-system.
  std::string spoofed = StartHalfCpu(cri, "spoofed", true, gate.dir(),
                                     {{"io.kubernetes.pod.namespace", "kube-system"}});
  EXPECT_TRUE(WaitExited(cri, spoofed, 30s)) << "the label protected it: " << gate.Log();
  EXPECT_EQ(State(cri, system), v1::CONTAINER_RUNNING) << gate.Log();
}

// A node-wide rule only: the containers' summed CPU against the node's.
std::string NodeWideConfig(double node_cpu) {
  std::string config = kBurnerMonitorConfig;
  config.replace(config.find("cpu = 0.3"), 9, "cpu = 0");
  config.replace(config.find("node_cpu = 0"), 12, "node_cpu = " + std::to_string(node_cpu));
  return config;
}

// Processes on the host, outside any container, spinning on every CPU.
class HostBurner {
 public:
  explicit HostBurner(int processes) {
    for (int i = 0; i < processes; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "while :; do :; done", nullptr);
        _exit(127);
      }
      pids_.push_back(pid);
    }
  }
  ~HostBurner() {
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

 private:
  std::vector<pid_t> pids_;
};

TEST_F(Monitor, HostLoadWithIdleContainersStopsNothing) {
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = NodeWideConfig(0.3);  // the host's own load alone would trip it
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  std::string first = StartHalfCpu(cri, "idle-1", false, gate.dir());
  std::string second = StartHalfCpu(cri, "idle-2", false, gate.dir());
  HostBurner burner(2);
  // Many breach windows' worth.
  EXPECT_FALSE(WaitExited(cri, second, 5s)) << gate.Log();
  EXPECT_EQ(State(cri, first), v1::CONTAINER_RUNNING) << gate.Log();
  EXPECT_EQ(gate.Audit().find("monitor_stop"), std::string::npos) << gate.Audit();
}

// The documented rule: the most recently started container among those that
// use at least victim_min_share of the containers' total. The newer one is
// idle, so the older burner is the one stopped.
TEST_F(Monitor, ANodeWideBreachStopsTheContributorNotTheNewestIdleContainer) {
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = NodeWideConfig(0.15);  // the burner's half CPU is a quarter of two
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  std::string burner = StartHalfCpu(cri, "older-burner", true, gate.dir());
  std::this_thread::sleep_for(1100ms);  // started_at orders them
  std::string idle = StartHalfCpu(cri, "newer-idle", false, gate.dir());
  ASSERT_TRUE(WaitExited(cri, burner, 30s)) << gate.Log();
  EXPECT_EQ(State(cri, idle), v1::CONTAINER_RUNNING) << gate.Log();
  std::string audit = gate.Audit();
  EXPECT_NE(audit.find("\"resource\":\"node_cpu\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"node\":{\"id\":"), std::string::npos) << "stop records name the node";
}

constexpr int64_t k64MiB = 64 << 20;

// Memory is the working set, as kubelet measures it: a container that only
// fills the page cache under its limit is not stopped; one that holds the
// memory is.
TEST_F(Monitor, PageCacheIsNotMemoryTheContainerHolds) {
  std::string config = kBurnerMonitorConfig;
  config.replace(config.find("cpu = 0.3"), 9, "cpu = 0");
  config.replace(config.find("memory = 0"), 10, "memory = 0.7");
  CrigateProcess::Options options;
  options.monitor = true;
  options.body = config;
  CrigateProcess gate(options);
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  CriClient cri(gate.socket());
  // 150 MB written through a 64 MiB limit: usage sits at the limit, almost
  // all of it inactive page cache the kernel can drop (measured here: 62 of
  // 65 MB). A file read back repeatedly would move its pages to the active
  // list, which the working set counts, as kubelet's does.
  std::string reader = StartWithMemoryLimit(
      cri, "page-cache",
      {"sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1M count=150 2>/dev/null; sleep 3600"}, k64MiB,
      gate.dir());
  EXPECT_FALSE(WaitExited(cri, reader, 8s)) << gate.Log();
  // 52 MB in tmpfs: memory the container holds (82 % of its limit).
  std::string grower = StartWithMemoryLimit(
      cri, "grower",
      {"sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=52 2>/dev/null; sleep 3600"},
      k64MiB, gate.dir());
  EXPECT_TRUE(WaitExited(cri, grower, 30s)) << gate.Log();
  EXPECT_EQ(State(cri, reader), v1::CONTAINER_RUNNING) << gate.Log();
  EXPECT_NE(gate.Audit().find("\"resource\":\"memory\""), std::string::npos) << gate.Audit();
}

// The watchdog's stops reach the cloud through the MQTT channel
// (test/e2e/channel_e2e_test.cc has the policy direction): spooled on disk
// while the broker is away, delivered once it is back, and kept across a
// kill -9 of crigate.
class MonitorChannel : public Monitor {
 protected:
  static constexpr char kNode[] = "gw-a";

  void SetUp() override {
    Monitor::SetUp();
    std::string why;
    auto broker = Broker::ForNode(kNode, &why);
    ASSERT_TRUE(broker) << why;
    broker_ = std::move(*broker);
    dir_ = ScratchDir();
    ASSERT_TRUE(MakeBundleKey(dir_, "cloud-1", &why)) << why;
    // The cloud, with a session the broker keeps while it restarts.
    cloud_id_ = "cloud-monitor-" + std::to_string(getpid());
    cloud_ = std::make_unique<Subscriber>(broker_, broker_.cloud(), cloud_id_,
                                          std::vector<std::string>{Events()});
    // Subscribed once a gateway's event comes through (a probe published
    // before the subscription exists is not kept for it: send until one is).
    bool subscribed = false;
    for (int i = 0; i < 20 && !subscribed; ++i) {
      ASSERT_EQ(broker_.Publish(kNode, Events(), R"({"type":"probe"})", false).code, 0);
      subscribed = cloud_->WaitFor(Events(), "probe", 1, 500ms);
    }
    ASSERT_TRUE(subscribed) << cloud_->Log();
  }
  void TearDown() override {
    cloud_.reset();
    broker_.EndSession(broker_.cloud(), cloud_id_);
    if (!broker_started_) broker_.Start();  // never leave it down for the next test
    Monitor::TearDown();
  }

  std::string Events() const { return broker_.Topic(kNode, "events"); }
  CrigateProcess::Options GateOptions() const {
    CrigateProcess::Options options;
    options.monitor = true;
    options.body = std::string(kBurnerMonitorConfig) +
                   broker_.ChannelSection(kNode, dir_ + "/cloud-keys", dir_ + "/state");
    options.policy += std::string("[node]\nid = \"") + kNode + "\"\n";
    return options;
  }
  size_t Spooled() const {
    size_t n = 0;
    if (DIR* d = opendir((dir_ + "/state/events").c_str())) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) ++n;
      }
      closedir(d);
    }
    return n;
  }
  bool WaitSpooled(size_t want, std::chrono::seconds limit) const {
    auto until = std::chrono::steady_clock::now() + limit;
    while (Spooled() != want && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(50ms);
    }
    return Spooled() == want;
  }
  void StopBroker() {
    ASSERT_TRUE(broker_.Stop());
    broker_started_ = false;
  }
  // With the broker down, a burner through gate is stopped by the watchdog
  // and its event waits in the spool; *burner is its id.
  void StopABurnerWhileTheBrokerIsDown(CrigateProcess& gate, std::string* burner) {
    StopBroker();
    CriClient cri(gate.socket());
    *burner = StartHalfCpu(cri, "burner", true, gate.dir());
    ASSERT_TRUE(WaitExited(cri, *burner, 30s)) << gate.Log();
    ASSERT_TRUE(WaitSpooled(1, 10s)) << gate.Log();
    EXPECT_EQ(cloud_->Count(Events(), *burner), 0u);
  }
  void StartBroker() {
    ASSERT_TRUE(broker_.Start());
    broker_started_ = true;
  }

  Broker broker_;
  std::string dir_, cloud_id_;
  std::unique_ptr<Subscriber> cloud_;
  bool broker_started_ = true;
};

TEST_F(MonitorChannel, AStopWhileTheBrokerIsDownArrivesExactlyOnceWhenItIsBack) {
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  std::string burner;
  ASSERT_NO_FATAL_FAILURE(StopABurnerWhileTheBrokerIsDown(gate, &burner));

  StartBroker();
  ASSERT_TRUE(cloud_->WaitFor(Events(), burner, 1, 30s)) << gate.Log() << cloud_->Log();
  // The event leaves the spool only on the broker's PUBACK; once it has,
  // nothing is left to send again.
  ASSERT_TRUE(WaitSpooled(0, 10s)) << gate.Log();
  EXPECT_EQ(cloud_->Count(Events(), burner), 1u);
  for (const auto& [topic, payload] : cloud_->Messages()) {
    if (payload.find(burner) == std::string::npos) continue;
    nlohmann::json event = nlohmann::json::parse(payload);
    EXPECT_EQ(event.value("type", ""), "monitor_stop");
    EXPECT_EQ(event.value("resource", ""), "cpu");
    EXPECT_GT(event.value("ratio", 0.0), event.value("threshold", 1.0));
    EXPECT_EQ(event.value("outcome", ""), "stopped");
    EXPECT_EQ(event["node"].value("id", ""), kNode);
    EXPECT_EQ(event.value("id", "").size(), 32u);
  }
}

TEST_F(MonitorChannel, EventsSpooledWhenCrigateIsKilledArriveAfterItsRestart) {
  CrigateProcess gate(GateOptions());
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  std::string burner;
  ASSERT_NO_FATAL_FAILURE(StopABurnerWhileTheBrokerIsDown(gate, &burner));
  gate.Kill();  // SIGKILL: no flush, no goodbye

  StartBroker();
  gate.Restart();
  ASSERT_TRUE(gate.WaitReady()) << gate.Log();
  ASSERT_TRUE(cloud_->WaitFor(Events(), burner, 1, 30s)) << gate.Log() << cloud_->Log();
  ASSERT_TRUE(WaitSpooled(0, 10s)) << gate.Log();
  EXPECT_EQ(cloud_->Count(Events(), burner), 1u);
}

}  // namespace
}  // namespace crigate::test
