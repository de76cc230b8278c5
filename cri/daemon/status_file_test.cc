#include "cri/daemon/status_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "policy/base/files.h"
#include "policy/testing.h"

namespace crigate::cri {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

json ReadStatus(const std::string& path) {
  auto text = base::ReadBoundedFile(path);
  json status = text.ok() ? json::parse(*text, nullptr, false) : json();
  return status.is_object() ? status : json::object();
}

TEST(StatusWriter, WritesAtStartThenEveryPeriodAndTheLastStateAtStop) {
  policy::testing::TempDir dir;
  const std::string path = dir.path() + "/status.json";
  std::atomic<int> snapshots{0};
  StatusWriter writer(path, std::chrono::milliseconds(20), [&] {
    return ordered_json{{"n", ++snapshots}, {"state", "serving"}};
  });
  writer.Start();
  // Rewritten again and again: a count past 3 was written by later periods.
  for (int i = 0; i < 500 && ReadStatus(path).value("n", 0) < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(ReadStatus(path).value("n", 0), 3);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the status file is root's alone";

  writer.Stop(ordered_json{{"state", "stopped"}});
  const int after_stop = snapshots.load();
  EXPECT_EQ(ReadStatus(path).value("state", ""), "stopped");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(snapshots.load(), after_stop) << "no snapshot after Stop";
  EXPECT_EQ(ReadStatus(path).value("state", ""), "stopped");

  // Stopped already, Stop writes a later last state (the daemon's drain:
  // "draining" first, "stopped" at its end).
  writer.Stop(ordered_json{{"state", "later"}});
  EXPECT_EQ(ReadStatus(path).value("state", ""), "later");
  EXPECT_EQ(snapshots.load(), after_stop);
}

TEST(StatusWriter, AnUnwritableFileIsReportedAndTheWriterGoesOn) {
  StatusWriter writer("/nonexistent-dir/status.json", std::chrono::milliseconds(10), [] {
    return ordered_json{{"state", "serving"}};
  });
  EXPECT_FALSE(writer.Write(ordered_json{{"state", "serving"}}).ok());
  writer.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  writer.Stop(ordered_json{{"state", "stopped"}});  // returns: no hang, no crash
}

}  // namespace
}  // namespace crigate::cri
