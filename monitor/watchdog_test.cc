// The watchdog with a fake runtime, fake cgroups, a fake node and a fake
// clock: consecutive samples, victim choice, cool-down, protection, restart
// resync, failures.
#include "watchdog.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "policy/base/fake_clock.h"

namespace crigate::monitor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kGiB = uint64_t{1} << 30;

// A container's cgroup as the test scripts it; shared by the fake runtime
// (which "kills" it on Stop) and the fake reader.
struct FakeCgroup {
  std::mutex mu;
  Sample sample;
  uint64_t cpu_per_tick_usec = 0;  // added to cpu usage on every Read
  bool gone = false;
};

class FakeReader final : public CgroupReader {
 public:
  explicit FakeReader(std::shared_ptr<FakeCgroup> cgroup) : cgroup_(std::move(cgroup)) {}
  Sample Read() override {
    std::lock_guard<std::mutex> lock(cgroup_->mu);
    if (cgroup_->gone) return VanishedSample();
    cgroup_->sample.cpu_usage_usec += cgroup_->cpu_per_tick_usec;
    return cgroup_->sample;
  }
  std::string Describe() const override { return "fake"; }

 private:
  std::shared_ptr<FakeCgroup> cgroup_;
};

class FakeRuntime final : public ContainerRuntime, public CgroupOpener {
 public:
  // Adds a running container; its cgroup starts idle, 10 MiB of 1 GiB, 5 of 100 pids.
  std::shared_ptr<FakeCgroup> Add(const std::string& id, int64_t started_at_s,
                                  std::map<std::string, std::string> labels = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    ContainerFacts facts;
    facts.id = id;
    facts.name = id + "-name";
    facts.pod_name = id + "-pod";
    facts.labels = std::move(labels);
    auto ns = facts.labels.find("io.kubernetes.pod.namespace");
    facts.pod_namespace = ns == facts.labels.end() ? "default" : ns->second;
    facts.state = ContainerRunState::kRunning;
    facts.started_at_ns = started_at_s * 1000000000;
    facts.pid = 1000 + static_cast<int>(containers_.size());
    facts.cgroups_path = "/k8s.io/" + id;
    containers_[id] = facts;
    auto cgroup = std::make_shared<FakeCgroup>();
    cgroup->sample.cpu_ok = true;
    cgroup->sample.memory_ok = true;
    cgroup->sample.memory_current = cgroup->sample.memory_working_set = 10 << 20;
    cgroup->sample.memory_limit = kGiB;
    cgroup->sample.pids_ok = true;
    cgroup->sample.pids_current = 5;
    cgroup->sample.pids_max = 100;
    cgroups_[facts.cgroups_path] = cgroup;
    return cgroup;
  }

  grpc::Status ListRunning(std::vector<std::string>* ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_list) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "containerd is down");
    ids->clear();
    // Reverse id order, so that nothing depends on listing order.
    for (auto it = containers_.rbegin(); it != containers_.rend(); ++it) {
      if (it->second.state == ContainerRunState::kRunning) ids->push_back(it->first);
    }
    return grpc::Status::OK;
  }

  grpc::Status Status(const std::string& id, ContainerFacts* facts) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_calls;
    auto it = containers_.find(id);
    if (it == containers_.end())
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container");
    *facts = it->second;
    return grpc::Status::OK;
  }

  grpc::Status Stop(const std::string& id, int64_t grace_seconds) override {
    std::unique_lock<std::mutex> lock(mu_);
    stop_calls.push_back(id);
    last_grace = grace_seconds;
    released_.notify_all();
    released_.wait(lock, [this] { return !hold_stops; });
    if (fail_stops) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "stop timed out");
    containers_[id].state = ContainerRunState::kExited;
    std::shared_ptr<FakeCgroup> cgroup = cgroups_["/k8s.io/" + id];
    std::lock_guard<std::mutex> cgroup_lock(cgroup->mu);
    cgroup->gone = true;
    return grpc::Status::OK;
  }

  base::Result<std::unique_ptr<CgroupReader>> Open(const CgroupRef& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cgroups_.find(ref.cgroups_path);
    if (it == cgroups_.end() || it->second->gone) return base::Status::NotFound("no cgroup");
    return std::unique_ptr<CgroupReader>(std::make_unique<FakeReader>(it->second));
  }

  std::vector<std::string> Stops() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_calls;
  }
  // Waits (a bounded time) until StopContainer has been called `count` times.
  bool WaitForStopCalls(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return released_.wait_for(lock, seconds(10), [&] { return stop_calls.size() >= count; });
  }
  void HoldStops(bool hold) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_stops = hold;
    }
    released_.notify_all();
  }
  void SetFailStops(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_stops = fail;
  }
  void SetFailList(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_list = fail;
  }

  int64_t last_grace = -1;
  int status_calls = 0;

 private:
  std::mutex mu_;
  std::condition_variable released_;
  std::map<std::string, ContainerFacts> containers_;
  std::map<std::string, std::shared_ptr<FakeCgroup>> cgroups_;
  std::vector<std::string> stop_calls;
  bool hold_stops = false;
  bool fail_stops = false;
  bool fail_list = false;
};

// One CPU, 1 GiB; busy share scripted per tick.
class FakeNode final : public NodeReader {
 public:
  explicit FakeNode(std::shared_ptr<double> busy) : busy_(std::move(busy)) {}
  NodeCapacity capacity() const override { return {1, kGiB, 1000}; }
  NodeSample Read() override {
    NodeSample sample;
    sample.cpu_ok = true;
    total_ += 100;
    busy_ticks_ += static_cast<uint64_t>(*busy_ * 100);
    sample.cpu = {busy_ticks_, total_};
    sample.memory_ok = true;
    sample.memory = {kGiB, kGiB / 2};
    return sample;
  }

 private:
  std::shared_ptr<double> busy_;
  uint64_t busy_ticks_ = 0;
  uint64_t total_ = 0;
};

class RecordingReporter final : public ActionReporter {
 public:
  void Report(const StopAction& action) override {
    std::lock_guard<std::mutex> lock(mu);
    actions.push_back(action);
  }
  std::vector<StopAction> Actions() {
    std::lock_guard<std::mutex> lock(mu);
    return actions;
  }
  std::mutex mu;
  std::vector<StopAction> actions;
};

class WatchdogTest : public ::testing::Test {
 protected:
  WatchdogTest() {
    config_.samples = 3;
    config_.cooldown = seconds(5);
    config_.grace_seconds = 4;
    config_.resync_interval = milliseconds(0);
  }

  void Build() {
    Watchdog::Dependencies dependencies;
    dependencies.runtime = runtime_;
    dependencies.cgroups = runtime_;
    dependencies.node = std::make_unique<FakeNode>(node_busy_);
    dependencies.reporter = reporter_;
    dependencies.clock = clock_;
    dependencies.warn = [this](std::string_view message) {
      std::lock_guard<std::mutex> lock(warnings_mu_);
      warnings_.emplace_back(message);
    };
    watchdog_ = std::make_unique<Watchdog>(config_, std::move(dependencies));
  }

  // One interval passes, one tick runs, and every runtime call it started ends.
  void Tick(int count = 1) {
    for (int i = 0; i < count; ++i) {
      clock_->Advance(seconds(1));
      watchdog_->Tick();
      watchdog_->WaitIdle();
    }
  }

  void RegisterAndSettle(const std::string& id) {
    watchdog_->Register(id);
    watchdog_->WaitIdle();
  }

  MonitorConfig config_;
  std::shared_ptr<FakeRuntime> runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<RecordingReporter> reporter_ = std::make_shared<RecordingReporter>();
  std::shared_ptr<base::FakeClock> clock_ = std::make_shared<base::FakeClock>(1000);
  std::shared_ptr<double> node_busy_ = std::make_shared<double>(0.1);
  std::mutex warnings_mu_;
  std::vector<std::string> warnings_;
  std::unique_ptr<Watchdog> watchdog_;
};

constexpr uint64_t kBurn = 950000;  // 0.95 of the node's one CPU per 1 s tick

TEST_F(WatchdogTest, StopsAfterTheConfiguredNumberOfConsecutiveSamples) {
  runtime_->Add("a", 100);
  runtime_->Add("b", 200)->cpu_per_tick_usec = kBurn;
  Build();
  RegisterAndSettle("a");
  RegisterAndSettle("b");
  Tick();   // first sample: no CPU ratio yet
  Tick(2);  // two samples over
  EXPECT_TRUE(runtime_->Stops().empty());
  Tick();  // the third
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"b"});
  EXPECT_EQ(runtime_->last_grace, 4);

  std::vector<StopAction> actions = reporter_->Actions();
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].container_id, "b");
  EXPECT_EQ(actions[0].container_name, "b-name");
  EXPECT_EQ(actions[0].pod_name, "b-pod");
  EXPECT_EQ(actions[0].pod_namespace, "default");
  EXPECT_EQ(actions[0].resource, "cpu");
  EXPECT_NEAR(actions[0].ratio, 0.95, 1e-9);
  EXPECT_DOUBLE_EQ(actions[0].threshold, 0.9);
  EXPECT_EQ(actions[0].samples, 3);
  EXPECT_EQ(actions[0].started_at_ns, 200 * 1000000000LL);
  EXPECT_EQ(actions[0].grace_seconds, 4);
  EXPECT_TRUE(actions[0].result.ok());

  // The stopped container is forgotten; the other keeps running, unstopped.
  Tick(10);
  EXPECT_EQ(runtime_->Stops().size(), 1u);
  EXPECT_EQ(watchdog_->stats().watched, 1u);
  EXPECT_EQ(watchdog_->stats().stops_ok, 1u);
}

TEST_F(WatchdogTest, AnInterruptedBreachStartsCountingAgain) {
  std::shared_ptr<FakeCgroup> b = runtime_->Add("b", 200);
  Build();
  RegisterAndSettle("b");
  Tick();
  for (int round = 0; round < 5; ++round) {
    b->cpu_per_tick_usec = kBurn;
    Tick(2);
    b->cpu_per_tick_usec = 100000;
    Tick();
  }
  EXPECT_TRUE(runtime_->Stops().empty());
}

TEST_F(WatchdogTest, AContainerUnderItsThresholdIsNeverStopped) {
  runtime_->Add("a", 100)->cpu_per_tick_usec = 850000;  // 0.85 < 0.9
  Build();
  RegisterAndSettle("a");
  Tick(50);
  EXPECT_TRUE(runtime_->Stops().empty());
  EXPECT_TRUE(reporter_->Actions().empty());
}

TEST_F(WatchdogTest, OwnBreachStopsTheOffenderEvenWhenOlder) {
  runtime_->Add("old-burner", 100)->cpu_per_tick_usec = kBurn;
  runtime_->Add("young-idle", 300);
  Build();
  RegisterAndSettle("old-burner");
  RegisterAndSettle("young-idle");
  Tick(4);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"old-burner"});
}

TEST_F(WatchdogTest, AmongOffendersTheMostRecentlyStartedGoesFirst) {
  std::shared_ptr<FakeCgroup> a = runtime_->Add("a", 100);
  std::shared_ptr<FakeCgroup> b = runtime_->Add("b", 300);
  std::shared_ptr<FakeCgroup> c = runtime_->Add("c", 200);
  for (auto& cgroup : {a, b, c}) {
    cgroup->sample.memory_current = cgroup->sample.memory_working_set = kGiB - (1 << 20);  // ~0.999
  }
  Build();
  for (const char* id : {"a", "b", "c"}) RegisterAndSettle(id);
  Tick(3);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"b"});
  ASSERT_EQ(reporter_->Actions().size(), 1u);
  EXPECT_EQ(reporter_->Actions()[0].resource, "memory");
  // The next tick sees the stop done and starts the 5 s cool-down; the
  // breach is still sustained when it ends: c, then a.
  Tick(5);
  EXPECT_EQ(runtime_->Stops().size(), 1u);
  Tick(1);
  EXPECT_EQ(runtime_->Stops(), (std::vector<std::string>{"b", "c"}));
  Tick(5);
  EXPECT_EQ(runtime_->Stops().size(), 2u);
  Tick(1);
  EXPECT_EQ(runtime_->Stops(), (std::vector<std::string>{"b", "c", "a"}));
}

// After a restart the lookups register containers one by one, so a newer
// offender's run can begin a tick after an older one's: it is waited for,
// and then it is the one stopped.
TEST_F(WatchdogTest, ANewerOffenderRegisteredATickLaterIsStillStoppedFirst) {
  runtime_->Add("older", 100)->cpu_per_tick_usec = kBurn;
  runtime_->Add("newer", 300)->cpu_per_tick_usec = kBurn;
  Build();
  RegisterAndSettle("older");
  Tick();  // older's first sample
  RegisterAndSettle("newer");
  Tick(3);  // older: 3 over, sustained; newer: 2 over, still building
  EXPECT_TRUE(runtime_->Stops().empty());
  Tick();
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"newer"});
}

// The wait is for a run in progress only: a newer container that stays
// under its threshold never holds the older offender's stop.
TEST_F(WatchdogTest, ANewerContainerUnderItsThresholdDoesNotDelayTheStop) {
  runtime_->Add("older", 100)->cpu_per_tick_usec = kBurn;
  std::shared_ptr<FakeCgroup> newer = runtime_->Add("newer", 300);
  Build();
  RegisterAndSettle("older");
  RegisterAndSettle("newer");
  Tick(2);
  newer->cpu_per_tick_usec = kBurn;  // over for one sample, then under
  Tick();
  newer->cpu_per_tick_usec = 100000;
  Tick();
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"older"});
}

constexpr uint64_t kHalf = 500000;  // half the node's one CPU per 1 s tick

TEST_F(WatchdogTest, NodeBreachStopsTheMostRecentContributorThenTheNextAfterCooldown) {
  // Each under its own threshold, together over the node's: 1.5 CPUs of 1.
  runtime_->Add("a", 100)->cpu_per_tick_usec = kHalf;
  runtime_->Add("b", 300)->cpu_per_tick_usec = kHalf;
  runtime_->Add("c", 200)->cpu_per_tick_usec = kHalf;
  runtime_->Add("idle", 400);  // the newest, but it contributes nothing
  Build();
  for (const char* id : {"a", "b", "c", "idle"}) RegisterAndSettle(id);
  Tick(4);  // the first sample has no CPU figure: three more
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"b"});
  ASSERT_EQ(reporter_->Actions().size(), 1u);
  EXPECT_EQ(reporter_->Actions()[0].resource, "node_cpu");
  EXPECT_NEAR(reporter_->Actions()[0].ratio, 1.5, 1e-9);
  EXPECT_NEAR(reporter_->Actions()[0].share, 1.0 / 3, 1e-9);
  // a and c still use 1.0 of 1: after the 5 s cool-down, the next most recent.
  Tick(5);
  EXPECT_EQ(runtime_->Stops().size(), 1u);
  Tick(1);
  EXPECT_EQ(runtime_->Stops(), (std::vector<std::string>{"b", "c"}));
  // a alone uses half: nothing more, and the idle one is never chosen.
  Tick(20);
  EXPECT_EQ(runtime_->Stops().size(), 2u);
}

TEST_F(WatchdogTest, HostLoadWithIdleContainersStopsNothing) {
  // The host's own processes keep the CPU busy; the containers sleep.
  *node_busy_ = 0.99;
  runtime_->Add("a", 100);
  runtime_->Add("b", 200);
  Build();
  RegisterAndSettle("a");
  RegisterAndSettle("b");
  Tick(30);
  EXPECT_TRUE(runtime_->Stops().empty());
}

TEST_F(WatchdogTest, AContainerUnderTheMinimumShareIsNeverTheNodeWideVictim) {
  // 0.98 + 0.03: over the node's threshold together; the newer one uses 3 %.
  runtime_->Add("old-burner", 100)->cpu_per_tick_usec = 880000;
  runtime_->Add("young-sipper", 300)->cpu_per_tick_usec = 30000;
  config_.container.cpu = 0;  // only the node-wide rule
  config_.node_cpu = 0.9;
  Build();
  RegisterAndSettle("old-burner");
  RegisterAndSettle("young-sipper");
  Tick(4);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"old-burner"});
}

TEST_F(WatchdogTest, PressureAloneOrCombinedWithTheContainersShare) {
  std::shared_ptr<FakeCgroup> a = runtime_->Add("a", 100);
  a->cpu_per_tick_usec = 300000;
  a->sample.cpu_pressure = Pressure{60.0, 0, false};  // stalled 60 % of the time
  config_.container.cpu = 0;
  config_.node_cpu = 0;  // pressure alone
  config_.node_cpu_pressure = 0.5;
  Build();
  RegisterAndSettle("a");
  Tick(4);
  ASSERT_EQ(runtime_->Stops(), std::vector<std::string>{"a"});
  EXPECT_EQ(reporter_->Actions()[0].resource, "node_cpu_pressure");

  // Combined: pressure without the containers' share over its threshold stops nothing.
  watchdog_.reset();
  runtime_ = std::make_shared<FakeRuntime>();
  std::shared_ptr<FakeCgroup> b = runtime_->Add("b", 100);
  b->cpu_per_tick_usec = 300000;  // 0.3 of the node: under node_cpu
  b->sample.cpu_pressure = Pressure{90.0, 0, false};
  config_.node_cpu = 0.95;
  Build();
  RegisterAndSettle("b");
  Tick(10);
  EXPECT_TRUE(runtime_->Stops().empty());
}

TEST_F(WatchdogTest, MemoryIsTheWorkingSetNotThePageCache) {
  // 1000 MiB used of 1 GiB, 900 MiB of it page cache the kernel can drop.
  std::shared_ptr<FakeCgroup> cache = runtime_->Add("cache", 100);
  cache->sample.memory_current = 1000ull << 20;
  cache->sample.memory_working_set = 100ull << 20;
  Build();
  RegisterAndSettle("cache");
  Tick(10);
  EXPECT_TRUE(runtime_->Stops().empty());
  {
    std::lock_guard<std::mutex> lock(cache->mu);
    cache->sample.memory_working_set = 1000ull << 20;  // now it holds it
  }
  Tick(3);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"cache"});
  EXPECT_EQ(reporter_->Actions()[0].resource, "memory");
}

TEST_F(WatchdogTest, ProtectedContainersAreNeverStopped) {
  runtime_->Add("old", 100)->cpu_per_tick_usec = kHalf;
  runtime_->Add("system", 400, {{"io.kubernetes.pod.namespace", "kube-system"}})
      ->cpu_per_tick_usec = kBurn;
  runtime_->Add("pinned", 300, {{"crigate.io/protected", "true"}});
  Build();
  for (const char* id : {"old", "system", "pinned"}) RegisterAndSettle(id);
  Tick(4);
  {
    std::lock_guard<std::mutex> lock(warnings_mu_);
    ASSERT_FALSE(warnings_.empty());
    EXPECT_NE(warnings_[0].find("protected"), std::string::npos);
  }
  // The node-wide breach (0.5 + 0.95 of one CPU) skips both protected ones.
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"old"});
  Tick(20);
  EXPECT_EQ(runtime_->Stops().size(), 1u);  // nothing unprotected left
}

TEST_F(WatchdogTest, OneStopAtATimeAndTheCooldownCountsFromItsEnd) {
  runtime_->Add("a", 100)->cpu_per_tick_usec = kBurn;
  runtime_->Add("b", 200)->cpu_per_tick_usec = kBurn;
  Build();
  RegisterAndSettle("a");
  RegisterAndSettle("b");
  runtime_->HoldStops(true);  // StopContainer waits out its grace period
  for (int i = 0; i < 4; ++i) {
    clock_->Advance(seconds(1));
    watchdog_->Tick();
  }
  // b's stop is in flight; a breaches too but must wait.
  ASSERT_TRUE(runtime_->WaitForStopCalls(1));
  for (int i = 0; i < 10; ++i) {
    clock_->Advance(seconds(1));
    watchdog_->Tick();
  }
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"b"});
  runtime_->HoldStops(false);
  watchdog_->WaitIdle();
  Tick(5);  // the cool-down (5 s) runs from the stop's end, not its start
  EXPECT_EQ(runtime_->Stops().size(), 1u);
  Tick(1);
  EXPECT_EQ(runtime_->Stops(), (std::vector<std::string>{"b", "a"}));
}

TEST_F(WatchdogTest, AFailedStopIsReportedAndRetriedAfterTheCooldown) {
  runtime_->Add("b", 200)->cpu_per_tick_usec = kBurn;
  Build();
  RegisterAndSettle("b");
  runtime_->SetFailStops(true);
  Tick(4);
  ASSERT_EQ(reporter_->Actions().size(), 1u);
  EXPECT_EQ(reporter_->Actions()[0].result.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(watchdog_->stats().stops_failed, 1u);
  runtime_->SetFailStops(false);
  Tick(5);
  EXPECT_EQ(runtime_->Stops().size(), 1u);
  Tick(1);
  EXPECT_EQ(runtime_->Stops(), (std::vector<std::string>{"b", "b"}));
  EXPECT_TRUE(reporter_->Actions().back().result.ok());
}

TEST_F(WatchdogTest, RestartResyncFindsRunningContainersAndTheRightVictim) {
  runtime_->Add("a", 100)->cpu_per_tick_usec = kHalf;
  runtime_->Add("b", 300)->cpu_per_tick_usec = kHalf;
  runtime_->Add("c", 200)->cpu_per_tick_usec = kHalf;
  Build();
  for (const char* id : {"a", "b", "c"}) RegisterAndSettle(id);
  Tick(2);
  watchdog_.reset();  // crigate goes away; the containers keep running

  Build();  // crigate is back, knowing nothing
  watchdog_->Resync();
  watchdog_->WaitIdle();
  Tick(4);
  EXPECT_EQ(watchdog_->stats().watched, 3u);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"b"});
  Tick();
  EXPECT_EQ(watchdog_->stats().watched, 2u);
}

TEST_F(WatchdogTest, ResyncSkipsWatchedContainersAndRetriesWhenTheRuntimeIsDown) {
  runtime_->Add("a", 100);
  config_.resync_interval = seconds(60);
  Build();
  runtime_->SetFailList(true);
  watchdog_->Resync();
  watchdog_->WaitIdle();
  Tick();
  EXPECT_EQ(watchdog_->stats().watched, 0u);
  runtime_->SetFailList(false);
  Tick(5);  // retried 5 s after the failure, not 60
  Tick();
  EXPECT_EQ(watchdog_->stats().watched, 1u);
  int calls = runtime_->status_calls;
  Tick(60);  // the periodic resync lists again but looks nothing up again
  EXPECT_EQ(runtime_->status_calls, calls);
  runtime_->Add("late", 500);  // started while its Register was lost
  Tick(61);
  EXPECT_EQ(watchdog_->stats().watched, 2u);
}

TEST_F(WatchdogTest, ForgetStopsWatchingEvenWhileTheLookupIsInFlight) {
  runtime_->Add("a", 100)->cpu_per_tick_usec = kBurn;
  runtime_->Add("b", 200)->cpu_per_tick_usec = kBurn;
  Build();
  RegisterAndSettle("a");
  Tick();
  watchdog_->Forget("a");
  watchdog_->Register("b");
  watchdog_->Forget("b");  // before its lookup was applied
  watchdog_->WaitIdle();
  Tick(10);
  EXPECT_EQ(watchdog_->stats().watched, 0u);
  EXPECT_TRUE(runtime_->Stops().empty());
}

TEST_F(WatchdogTest, VanishedCgroupsAndFailedLookupsAreForgotten) {
  std::shared_ptr<FakeCgroup> a = runtime_->Add("a", 100);
  Build();
  RegisterAndSettle("a");
  RegisterAndSettle("no-such-container");
  Tick();
  EXPECT_EQ(watchdog_->stats().watched, 1u);
  EXPECT_EQ(watchdog_->stats().registrations_failed, 1u);
  {
    std::lock_guard<std::mutex> lock(a->mu);
    a->gone = true;  // exited between samples
  }
  Tick();
  EXPECT_EQ(watchdog_->stats().watched, 0u);
}

TEST_F(WatchdogTest, PerContainerOverridesAndDisabledChecks) {
  config_.container.cpu = 0;  // CPU check off for everyone...
  ContainerOverride historian;
  historian.match = *LabelMatch::Parse("app=historian");
  historian.cpu = 0.5;  // ...except this one, at a lower threshold
  config_.overrides.push_back(historian);
  runtime_->Add("plain", 100)->cpu_per_tick_usec = kBurn;
  runtime_->Add("historian", 50, {{"app", "historian"}})->cpu_per_tick_usec = 600000;
  Build();
  RegisterAndSettle("plain");
  RegisterAndSettle("historian");
  Tick(4);
  EXPECT_EQ(runtime_->Stops(), std::vector<std::string>{"historian"});
  Tick(20);
  EXPECT_EQ(runtime_->Stops().size(), 1u);
}

TEST_F(WatchdogTest, PidsBreach) {
  runtime_->Add("forker", 100)->sample.pids_current = 95;
  Build();
  RegisterAndSettle("forker");
  Tick(3);
  ASSERT_EQ(reporter_->Actions().size(), 1u);
  EXPECT_EQ(reporter_->Actions()[0].resource, "pids");
  EXPECT_DOUBLE_EQ(reporter_->Actions()[0].ratio, 0.95);
}

TEST_F(WatchdogTest, DisabledMonitorDoesNothing) {
  config_.enabled = false;
  runtime_->Add("a", 100);
  Build();
  RegisterAndSettle("a");
  EXPECT_TRUE(watchdog_->Start());
  EXPECT_EQ(runtime_->status_calls, 0);
  watchdog_->Stop();
}

// The real thread and clock: a burner is stopped within a few intervals.
TEST_F(WatchdogTest, RunsOnItsOwnThread) {
  config_.interval = milliseconds(20);
  runtime_->Add("a", 100);
  runtime_->Add("b", 200)->cpu_per_tick_usec = 20000;  // 20 ms per 20 ms tick: ratio ~1
  Watchdog::Dependencies dependencies;
  dependencies.runtime = runtime_;
  dependencies.cgroups = runtime_;
  dependencies.node = std::make_unique<FakeNode>(node_busy_);
  dependencies.reporter = reporter_;
  dependencies.warn = [](std::string_view) {};
  Watchdog watchdog(config_, std::move(dependencies));
  ASSERT_TRUE(watchdog.Start());  // resyncs: finds a and b
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (reporter_->Actions().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  watchdog.Stop();
  ASSERT_EQ(reporter_->Actions().size(), 1u);
  EXPECT_EQ(reporter_->Actions()[0].container_id, "b");
  EXPECT_GT(watchdog.stats().ticks, 3u);
}

}  // namespace
}  // namespace crigate::monitor
