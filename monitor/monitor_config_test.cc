#include "monitor_config.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace crigate::monitor {
namespace {

MonitorConfig Parse(std::string_view text, std::vector<std::string>& errors) {
  // The daemon parses the file (and reports syntax errors); this unit gets a table.
  toml::table table = toml::parse(text);
  return ParseMonitorConfig(table, errors);
}

bool AnyErrorMentions(const std::vector<std::string>& errors, std::string_view key) {
  for (const std::string& error : errors) {
    if (error.find(key) != std::string::npos) return true;
  }
  return false;
}

TEST(ParseMonitorConfig, DefaultsWithoutSection) {
  std::vector<std::string> errors;
  MonitorConfig config = Parse("", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(config.samples, 5);
  EXPECT_EQ(config.grace_seconds, 10);
  EXPECT_EQ(config.cooldown, std::chrono::milliseconds(10000));
  EXPECT_EQ(config.resync_interval, std::chrono::milliseconds(60000));
  EXPECT_DOUBLE_EQ(config.container.cpu, 0.9);
  EXPECT_DOUBLE_EQ(config.container.memory, 0.9);
  EXPECT_DOUBLE_EQ(config.container.pids, 0.9);
  EXPECT_DOUBLE_EQ(config.node_cpu, 0.95);
  EXPECT_DOUBLE_EQ(config.node_memory, 0.95);
  EXPECT_EQ(config.protected_namespaces, std::vector<std::string>{"kube-system"});
  EXPECT_TRUE(config.IsProtected("", {{"crigate.io/protected", "true"}}));
  EXPECT_FALSE(config.IsProtected("default", {{"crigate.io/protected", "false"}}));
  EXPECT_TRUE(config.IsProtected("kube-system", {}));
}

TEST(ParseMonitorConfig, ReadsEveryKey) {
  std::vector<std::string> errors;
  MonitorConfig config = Parse(R"(
[monitor]
enabled = false
interval_ms = 250
samples = 5
grace_seconds = 2
cooldown_ms = 0
resync_interval_ms = 0
cpu = 0.8
memory = 1
pids = 0
node_cpu = 0.95
node_memory = 0.85
protected_namespaces = ["kube-system", "edge-system"]
protected_labels = ["tier=control", "keep"]

[[monitor.container]]
match_label = "app=historian"
cpu = 0.5

[[monitor.container]]
match_label = "batch"
memory = 0.99
pids = 0.5
)",
                               errors);
  ASSERT_TRUE(errors.empty()) << errors.front();
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(config.samples, 5);
  EXPECT_EQ(config.grace_seconds, 2);
  EXPECT_EQ(config.cooldown.count(), 0);
  EXPECT_EQ(config.resync_interval.count(), 0);
  EXPECT_DOUBLE_EQ(config.container.cpu, 0.8);
  EXPECT_DOUBLE_EQ(config.container.memory, 1.0);
  EXPECT_DOUBLE_EQ(config.container.pids, 0.0);
  EXPECT_DOUBLE_EQ(config.node_cpu, 0.95);
  EXPECT_DOUBLE_EQ(config.node_memory, 0.85);
  EXPECT_TRUE(config.IsProtected("edge-system", {}));
  EXPECT_TRUE(config.IsProtected("default", {{"tier", "control"}}));
  EXPECT_TRUE(config.IsProtected("default", {{"keep", "anything"}}));
  EXPECT_FALSE(config.IsProtected("default", {{"tier", "data"}}));
  // The defaults' protected label was replaced, not added to.
  EXPECT_FALSE(config.IsProtected("default", {{"crigate.io/protected", "true"}}));

  Thresholds historian = config.ThresholdsFor({{"app", "historian"}});
  EXPECT_DOUBLE_EQ(historian.cpu, 0.5);
  EXPECT_DOUBLE_EQ(historian.memory, 1.0);
  Thresholds batch = config.ThresholdsFor({{"batch", ""}, {"app", "other"}});
  EXPECT_DOUBLE_EQ(batch.cpu, 0.8);
  EXPECT_DOUBLE_EQ(batch.memory, 0.99);
  EXPECT_DOUBLE_EQ(batch.pids, 0.5);
  // First match wins.
  EXPECT_DOUBLE_EQ(config.ThresholdsFor({{"app", "historian"}, {"batch", "1"}}).cpu, 0.5);
}

TEST(ParseMonitorConfig, ErrorsNameTheirKey) {
  std::vector<std::string> errors;
  Parse(R"(
[monitor]
enabled = "yes"
interval_ms = 0
samples = 1.5
grace_seconds = -1
cooldown_ms = "10s"
resync_interval_ms = 500
cpu = 1.5
memory = "high"
node_cpu = -0.1
protected_namespaces = "kube-system"
protected_labels = ["=v"]
colour = "blue"

[[monitor.container]]
cpu = 0.5
shape = 1
)",
        errors);
  for (const char* key :
       {"monitor.enabled", "monitor.interval_ms", "monitor.samples", "monitor.grace_seconds",
        "monitor.cooldown_ms", "monitor.resync_interval_ms", "monitor.cpu", "monitor.memory",
        "monitor.node_cpu", "monitor.protected_namespaces", "monitor.protected_labels[0]",
        "monitor.colour", "monitor.container[0].match_label", "monitor.container[0].shape"}) {
    EXPECT_TRUE(AnyErrorMentions(errors, key)) << key;
  }
  EXPECT_EQ(errors.size(), 14u);
  // Worded as every other section's errors (policy/base/toml_fields.h).
  EXPECT_TRUE(std::count(errors.begin(), errors.end(),
                         "monitor.interval_ms: must be an integer from 50 to 60000") == 1);
  EXPECT_TRUE(std::count(errors.begin(), errors.end(), "monitor.colour: unknown key") == 1);
}

TEST(ParseMonitorConfig, SectionOfTheWrongType) {
  std::vector<std::string> errors;
  Parse("monitor = 3\n", errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("monitor"), std::string::npos);
  errors.clear();
  Parse("[monitor]\ncontainer = 3\n", errors);
  EXPECT_TRUE(AnyErrorMentions(errors, "monitor.container"));
}

TEST(LabelMatch, ParsesKeyValueAndKeyOnly) {
  std::optional<LabelMatch> exact = LabelMatch::Parse("a=b=c");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->key, "a");
  EXPECT_EQ(exact->value, "b=c");
  EXPECT_FALSE(exact->any_value);
  std::optional<LabelMatch> key_only = LabelMatch::Parse("a");
  ASSERT_TRUE(key_only);
  EXPECT_TRUE(key_only->any_value);
  EXPECT_FALSE(LabelMatch::Parse(""));
  EXPECT_FALSE(LabelMatch::Parse("=x"));
  EXPECT_TRUE(LabelMatch::Parse("a=")->Matches({{"a", ""}}));
  EXPECT_FALSE(LabelMatch::Parse("a=")->Matches({{"a", "x"}}));
}

}  // namespace
}  // namespace crigate::monitor
