#include "policy/channel/event_spool.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/base/files.h"
#include "policy/testing.h"

namespace crigate::channel {
namespace {

class EventSpoolTest : public ::testing::Test {
 protected:
  // The spool's directory does not exist yet: Open makes it.
  void SetUp() override { dir_ = base_.path() + "/spool"; }

  std::unique_ptr<EventSpool> OpenSpool(size_t max_events = 100, size_t max_event_bytes = 1024) {
    SpoolOptions options;
    options.dir = dir_;
    options.max_events = max_events;
    options.max_event_bytes = max_event_bytes;
    auto spool = EventSpool::Open(options);
    EXPECT_TRUE(spool.ok()) << spool.error();
    return spool.ok() ? std::move(spool).value() : nullptr;
  }

  // Every payload waiting, oldest first, removing each after reading it;
  // each seq must be above the one before.
  static std::vector<std::string> Drain(EventSpool& spool) {
    uint64_t previous = 0;
    std::vector<std::string> payloads;
    while (auto event = spool.Front()) {
      EXPECT_GT(event->seq, previous);
      previous = event->seq;
      payloads.push_back(event->payload);
      const bool removed = spool.Remove(event->seq).ok();
      EXPECT_TRUE(removed);
      if (!removed) break;  // Front would return it again
    }
    return payloads;
  }

  std::vector<std::string> Names() const {
    auto names = base::ListDirectory(dir_);
    EXPECT_TRUE(names.ok()) << names.error();
    return names.ok() ? *names : std::vector<std::string>{};
  }
  std::vector<std::string> EventNames() const {
    std::vector<std::string> events;
    for (const std::string& name : Names()) {
      if (name.size() > 5 && name.substr(name.size() - 5) == ".json") events.push_back(name);
    }
    return events;
  }
  bool Exists(const std::string& name) const {
    struct stat st {};
    return lstat((dir_ + "/" + name).c_str(), &st) == 0;
  }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static std::string EventName(uint64_t seq) { return fmt::format("{:020}.json", seq); }

  policy::testing::TempDir base_;
  std::string dir_;
};

TEST_F(EventSpoolTest, AppendedEventsComeBackOldestFirst) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(spool->Front().has_value());
  for (const char* payload : {"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}) {
    ASSERT_TRUE(spool->Append(payload).ok());
  }
  EXPECT_EQ(spool->stats().appended, 3u);
  EXPECT_EQ(spool->stats().depth, 3u);
  EXPECT_EQ(EventNames().size(), 3u);

  EXPECT_EQ(Drain(*spool), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
}

TEST_F(EventSpoolTest, FrontDoesNotRemoveAndRemovePopsTheFront) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append("a").ok());
  ASSERT_TRUE(spool->Append("b").ok());
  auto first = spool->Front();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->payload, "a");
  EXPECT_EQ(spool->Front()->seq, first->seq);  // still there

  ASSERT_TRUE(spool->Remove(first->seq).ok());
  EXPECT_FALSE(Exists(EventName(first->seq)));
  auto second = spool->Front();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->payload, "b");
  EXPECT_EQ(spool->stats().removed, 1u);
  EXPECT_EQ(spool->stats().depth, 1u);
}

TEST_F(EventSpoolTest, WaitingEventsSurviveAReopenAndNewOnesSortAfterThem) {
  {
    auto spool = OpenSpool();
    ASSERT_NE(spool, nullptr);
    for (const char* payload : {"a", "b", "c"}) ASSERT_TRUE(spool->Append(payload).ok());
    ASSERT_TRUE(spool->Remove(spool->Front()->seq).ok());  // "a" delivered
  }
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().depth, 2u);
  EXPECT_EQ(spool->stats().appended, 0u);  // by this process
  EXPECT_EQ(spool->Front()->payload, "b");
  ASSERT_TRUE(spool->Append("d").ok());

  EXPECT_EQ(Drain(*spool), (std::vector<std::string>{"b", "c", "d"}));
}

TEST_F(EventSpoolTest, SeqsKeepIncreasingAfterTheSpoolEmptiedAndReopened) {
  // A floor far above the clock, so that only next_seq can carry it.
  constexpr uint64_t kFloor = 9'000'000'000'000'000'000u;
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  Write("next_seq", std::to_string(kFloor) + "\n");
  {
    auto spool = OpenSpool();
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append("a").ok());
    EXPECT_EQ(spool->Front()->seq, kFloor);  // the persisted floor is where it starts
    ASSERT_TRUE(spool->Remove(kFloor).ok());
  }
  EXPECT_TRUE(EventNames().empty());
  // No event on disk says kFloor was used; next_seq must have moved past it.
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append("b").ok());
  EXPECT_GT(spool->Front()->seq, kFloor);
}

TEST_F(EventSpoolTest, WithoutAReadableNextSeqTheClockIsTheFloor) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  Write("next_seq", "not a number\n");
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append("a").ok());
  EXPECT_GE(spool->Front()->seq, static_cast<uint64_t>(before));
  EXPECT_NE(Read("next_seq"), "not a number\n");  // replaced by the reservation
}

TEST_F(EventSpoolTest, TheBoundDropsTheOldestAndCountsItAcrossAReopen) {
  {
    auto spool = OpenSpool(/*max_events=*/3);
    ASSERT_NE(spool, nullptr);
    for (const char* payload : {"e1", "e2", "e3", "e4", "e5"}) {
      ASSERT_TRUE(spool->Append(payload).ok());
    }
    EXPECT_EQ(spool->stats().depth, 3u);
    EXPECT_EQ(spool->stats().dropped, 2u);
    EXPECT_EQ(spool->stats().appended, 5u);
    EXPECT_EQ(spool->Front()->payload, "e3");
  }
  EXPECT_EQ(EventNames().size(), 3u);
  EXPECT_EQ(Read("dropped"), "2\n");

  auto spool = OpenSpool(/*max_events=*/3);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().dropped, 2u);
  EXPECT_EQ(Drain(*spool), (std::vector<std::string>{"e3", "e4", "e5"}));
}

TEST_F(EventSpoolTest, AReopenWithASmallerBoundDropsTheOldest) {
  {
    auto spool = OpenSpool(/*max_events=*/5);
    ASSERT_NE(spool, nullptr);
    for (const char* payload : {"e1", "e2", "e3", "e4", "e5"}) {
      ASSERT_TRUE(spool->Append(payload).ok());
    }
  }
  auto spool = OpenSpool(/*max_events=*/2);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().dropped, 3u);
  EXPECT_EQ(Read("dropped"), "3\n");
  EXPECT_EQ(EventNames().size(), 2u);
  EXPECT_EQ(Drain(*spool), (std::vector<std::string>{"e4", "e5"}));
}

TEST_F(EventSpoolTest, ALeftoverTmpIsRemovedOnOpenAndIsNotAnEvent) {
  {
    auto spool = OpenSpool();
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append("kept").ok());
  }
  Write("99999999999999999999.json.tmp", "half written");
  Write("dropped.tmp", "7\n");
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(Exists("99999999999999999999.json.tmp"));
  EXPECT_FALSE(Exists("dropped.tmp"));
  EXPECT_EQ(spool->stats().depth, 1u);
  EXPECT_EQ(spool->stats().dropped, 0u);  // a crashed Append never returned OK
  EXPECT_EQ(Drain(*spool), (std::vector<std::string>{"kept"}));
}

TEST_F(EventSpoolTest, MalformedEventFilesAreRemovedAndCountedOthersAreKept) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  Write("123.json", "short name");
  Write("0000000000000000000x.json", "not digits");
  Write("99999999999999999999.json", "above 2^64");
  Write("000000000000000000009.json", "21 digits");
  Write("00000000000000000005.json", "");                    // empty
  Write("00000000000000000006.json", std::string(17, 'x'));  // over max_event_bytes
  Write("00000000000000000007.json", "ok");
  Write("README", "not the spool's");
  Write("notes.txt", "not the spool's either");
  ASSERT_EQ(symlink((dir_ + "/README").c_str(), (dir_ + "/00000000000000000008.json").c_str()), 0);

  auto spool = OpenSpool(/*max_events=*/100, /*max_event_bytes=*/16);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().dropped, 7u);
  EXPECT_EQ(Read("dropped"), "7\n");
  EXPECT_EQ(Names(), (std::vector<std::string>{"00000000000000000007.json", "README", "dropped",
                                               "notes.txt"}));
  auto front = spool->Front();
  ASSERT_TRUE(front.has_value());
  EXPECT_EQ(front->seq, 7u);
  EXPECT_EQ(front->payload, "ok");
  EXPECT_EQ(spool->stats().depth, 1u);
}

TEST_F(EventSpoolTest, EmptyAndOversizePayloadsAreRefused) {
  auto spool = OpenSpool(/*max_events=*/100, /*max_event_bytes=*/8);
  ASSERT_NE(spool, nullptr);
  base::Status empty = spool->Append("");
  EXPECT_EQ(empty.code(), base::Code::INVALID_ARGUMENT);
  base::Status oversize = spool->Append("123456789");
  EXPECT_EQ(oversize.code(), base::Code::INVALID_ARGUMENT);
  EXPECT_NE(oversize.message().find("9 bytes"), std::string::npos) << oversize.message();
  EXPECT_EQ(spool->stats().depth, 0u);
  EXPECT_EQ(spool->stats().appended, 0u);
  EXPECT_TRUE(EventNames().empty());

  ASSERT_TRUE(spool->Append("12345678").ok());  // exactly the limit
  EXPECT_EQ(spool->Front()->payload, "12345678");
}

TEST_F(EventSpoolTest, RemovingAnUnknownSeqIsOk) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(spool->Remove(42).ok());
  ASSERT_TRUE(spool->Append("a").ok());
  const uint64_t seq = spool->Front()->seq;
  EXPECT_TRUE(spool->Remove(seq + 1).ok());
  EXPECT_EQ(spool->stats().depth, 1u);
  EXPECT_EQ(spool->stats().removed, 0u);
  ASSERT_TRUE(spool->Remove(seq).ok());
  EXPECT_TRUE(spool->Remove(seq).ok());  // twice
  EXPECT_EQ(spool->stats().removed, 1u);
}

TEST_F(EventSpoolTest, FrontSkipsAndCountsFilesGoneOrBrokenBehindItsBack) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  for (const char* payload : {"a", "b", "c"}) ASSERT_TRUE(spool->Append(payload).ok());
  const std::vector<std::string> names = EventNames();
  ASSERT_EQ(names.size(), 3u);
  ASSERT_EQ(unlink((dir_ + "/" + names[0]).c_str()), 0);  // deleted
  Write(names[1], "");                                    // truncated

  auto front = spool->Front();
  ASSERT_TRUE(front.has_value());
  EXPECT_EQ(front->payload, "c");
  EXPECT_EQ(spool->stats().dropped, 2u);
  EXPECT_EQ(spool->stats().depth, 1u);
  EXPECT_EQ(Read("dropped"), "2\n");
  EXPECT_FALSE(Exists(names[1]));
}

TEST_F(EventSpoolTest, FrontKeepsTheEventWhenTheProcessIsOutOfDescriptors) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append("a").ok());

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 256);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd = dup(0); fd >= 0; fd = dup(0)) filler.push_back(fd);
  const int dup_errno = errno;
  const std::optional<SpooledEvent> starved = spool->Front();
  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  ASSERT_EQ(dup_errno, EMFILE);
  EXPECT_FALSE(starved.has_value());
  EXPECT_EQ(spool->stats().dropped, 0u);  // the file was never the problem
  EXPECT_EQ(spool->stats().depth, 1u);
  auto front = spool->Front();
  ASSERT_TRUE(front.has_value());
  EXPECT_EQ(front->payload, "a");
}

TEST_F(EventSpoolTest, ConcurrentAppendsAreDeliveredExactlyOnceInOrder) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  auto spool = OpenSpool(/*max_events=*/kThreads * kPerThread);
  ASSERT_NE(spool, nullptr);

  std::atomic<bool> appended_all{false};
  std::vector<SpooledEvent> delivered;
  int failed_removes = 0;
  std::thread drainer([&] {
    for (;;) {
      const bool finished = appended_all.load();  // read before Front: no append can follow
      auto event = spool->Front();
      if (!event.has_value()) {
        if (finished) return;
        std::this_thread::yield();
        continue;
      }
      if (!spool->Remove(event->seq).ok()) ++failed_removes;
      delivered.push_back(std::move(*event));
      // A spool that hands out an event twice fails below instead of spinning.
      if (delivered.size() > static_cast<size_t>(kThreads * kPerThread)) return;
    }
  });
  std::vector<std::thread> appenders;
  std::atomic<int> failed_appends{0};
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!spool->Append(fmt::format("{}-{}", t, i)).ok()) ++failed_appends;
      }
    });
  }
  for (std::thread& appender : appenders) appender.join();
  appended_all = true;
  drainer.join();

  EXPECT_EQ(failed_appends.load(), 0);
  EXPECT_EQ(failed_removes, 0);
  ASSERT_EQ(delivered.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<std::string, int> times;
  std::vector<int> next_of_thread(kThreads, 0);
  for (size_t i = 0; i < delivered.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(delivered[i].seq, delivered[i - 1].seq);
    }
    ++times[delivered[i].payload];
    // Each thread's events arrive in the order it appended them.
    const int t = delivered[i].payload[0] - '0';
    ASSERT_TRUE(t >= 0 && t < kThreads) << delivered[i].payload;
    EXPECT_EQ(delivered[i].payload, fmt::format("{}-{}", t, next_of_thread[t]));
    ++next_of_thread[t];
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& [payload, count] : times) EXPECT_EQ(count, 1) << payload;

  const SpoolStats stats = spool->stats();
  EXPECT_EQ(stats.appended, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(stats.removed, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_TRUE(EventNames().empty());
}

TEST_F(EventSpoolTest, TheDirectoryAndEventFilesAreOwnerOnly) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append("a").ok());
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir_ + "/" + EventName(spool->Front()->seq)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(EventSpoolTest, OpenOnARegularFileFailsNamingThePath) {
  std::ofstream(dir_) << "a file, not a directory";
  SpoolOptions options;
  options.dir = dir_;
  auto spool = EventSpool::Open(options);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.error().rfind(dir_ + ": ", 0), 0u) << spool.error();
  EXPECT_NE(spool.error().find("Not a directory"), std::string::npos) << spool.error();
}

TEST_F(EventSpoolTest, OpenWithoutTheParentFailsNamingThePath) {
  SpoolOptions options;
  options.dir = base_.path() + "/missing/spool";
  auto spool = EventSpool::Open(options);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.error().rfind(options.dir + ": ", 0), 0u) << spool.error();
  EXPECT_NE(spool.error().find("parent must exist"), std::string::npos) << spool.error();
}

TEST_F(EventSpoolTest, ZeroBoundsAreRefused) {
  SpoolOptions options;
  options.dir = dir_;
  options.max_events = 0;
  EXPECT_EQ(EventSpool::Open(options).code(), base::Code::INVALID_ARGUMENT);
  options.max_events = 1;
  options.max_event_bytes = 0;
  EXPECT_EQ(EventSpool::Open(options).code(), base::Code::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace crigate::channel
