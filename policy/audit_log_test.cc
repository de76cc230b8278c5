#include "policy/audit_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using nlohmann::json;
using testing::FakeClock;
using testing::TempDir;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

TEST(AuditLogTest, AppendsOneJsonLinePerRecordWithTimeFirst) {
  TempDir dir;
  FakeClock clock(1'790'000'000);
  auto log = AuditLog::Open({dir.path() + "/audit.jsonl"}, clock);
  ASSERT_TRUE(log.ok()) << log.error();
  ASSERT_TRUE((*log)->Record(json{{"type", "decision"}, {"reason", "line\nbreak"}}).ok());
  ASSERT_TRUE((*log)->Record(json{{"type", "stop"}, {"time", "given"}}).ok());
  std::vector<std::string> lines = Lines(dir.path() + "/audit.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"time\":\"2026-09-21T", 0), 0u) << lines[0];
  EXPECT_EQ(json::parse(lines[0])["reason"], "line\nbreak");
  EXPECT_EQ(json::parse(lines[1])["time"], "given");
  EXPECT_EQ((*log)->records(), 2u);

  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/audit.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AuditLogTest, InvalidUtf8IsReplacedNotThrown) {
  TempDir dir;
  auto log = AuditLog::Open({dir.path() + "/a.jsonl"});
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->Record(json{{"image", "bad\xff\xfe"}}).ok());
  EXPECT_FALSE((*log)->Record(json::array({1, 2})).ok());  // not an object
  std::vector<std::string> lines = Lines(dir.path() + "/a.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NO_THROW(json::parse(lines[0]));
}

TEST(AuditLogTest, RotatesBySizeKeepingN) {
  TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  AuditOptions options{path, 300, 2, false};
  auto log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok());
  const std::string filler(100, 'x');
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE((*log)->Record(json{{"n", i}, {"f", filler}}).ok());
  }
  // Each line is ~150 bytes: two per file before the next line would pass 300.
  EXPECT_TRUE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".3"));
  std::vector<std::string> current = Lines(path), previous = Lines(path + ".1"),
                           oldest = Lines(path + ".2");
  ASSERT_EQ(current.size(), 2u);
  ASSERT_EQ(previous.size(), 2u);
  ASSERT_EQ(oldest.size(), 2u);
  EXPECT_EQ(json::parse(current[1])["n"], 11);
  EXPECT_EQ(json::parse(previous[1])["n"], 9);
  EXPECT_EQ(json::parse(oldest[0])["n"], 6);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LE(st.st_size, 300);
}

TEST(AuditLogTest, WriteFailureIsReportedAndLaterRecordsRecover) {
  // /dev/full takes the open and fails every write with ENOSPC.
  auto full = AuditLog::Open({"/dev/full", 0, 1, false});
  ASSERT_TRUE(full.ok()) << full.error();
  base::Status s = (*full)->Record(json{{"type", "decision"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), base::Code::UNAVAILABLE);
  EXPECT_EQ(s.message(), "cannot write audit log /dev/full: No space left on device");
  EXPECT_EQ((*full)->failures(), 1u);

  // A directory that disappears: the record fails, and succeeds again once it is back.
  TempDir dir;
  const std::string sub = dir.path() + "/logs";
  mkdir(sub.c_str(), 0700);
  auto log = AuditLog::Open({sub + "/audit.jsonl", 200, 1, true});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Record(json{{"n", 0}, {"f", std::string(150, 'x')}}).ok());
  std::remove((sub + "/audit.jsonl").c_str());
  rmdir(sub.c_str());
  // The log notices its file is gone, and cannot create a new one.
  s = (*log)->Record(json{{"n", 1}, {"f", std::string(150, 'x')}});
  EXPECT_FALSE(s.ok());
  mkdir(sub.c_str(), 0700);
  EXPECT_TRUE((*log)->Record(json{{"n", 2}}).ok());
  EXPECT_EQ(Lines(sub + "/audit.jsonl").size(), 1u);
}

TEST(AuditLogTest, OpenFailureNamesThePath) {
  auto log = AuditLog::Open({"/nonexistent-dir/audit.jsonl"});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error(),
            "cannot open audit log /nonexistent-dir/audit.jsonl: No such file or directory");
}

TEST(AuditLogTest, ConcurrentRecordsStayWholeLines) {
  TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  auto log = AuditLog::Open({path, 64 * 1024, 3, false});
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        EXPECT_TRUE((*log)->Record(json{{"t", t}, {"i", i}, {"pad", std::string(64, 'p')}}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (const std::string& file : {path, path + ".1", path + ".2", path + ".3"}) {
    for (const std::string& line : Lines(file)) {
      EXPECT_NO_THROW(json::parse(line)) << line;
      ++total;
    }
  }
  EXPECT_EQ((*log)->records(), 1000u);
  EXPECT_LE(total, 1000u);  // the oldest rotated file may have fallen off
  EXPECT_GT(total, 500u);
}

}  // namespace
}  // namespace crigate::policy
