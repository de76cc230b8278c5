#include "cri/daemon/settings.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "policy/testing.h"

namespace crigate::cri {
namespace {

using policy::testing::TempDir;

bool Mentions(const std::vector<std::string>& errors, const std::string& text) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

// The files every default config names (trust store, token keys) are not on
// a test machine: switched off here.
constexpr char kNoFiles[] = "[trust]\nenabled = false\n";

TEST(LoadSettings, AMissingDefaultFileReadsAsAnEmptyOne) {
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadSettings("/nonexistent/config.toml", false, errors));
  // Not the file's absence: the defaults' own files.
  EXPECT_FALSE(Mentions(errors, "/nonexistent/config.toml"));
  EXPECT_TRUE(Mentions(errors, "trust.store: cannot read /etc/crigate/trust.toml"));
}

TEST(LoadSettings, ReadsEverySection) {
  TempDir dir;
  std::vector<std::string> errors;
  const std::string path =
      dir.Write("c.toml", std::string(kNoFiles) +
                              "[token]\nenabled = false\n[server]\nsocket = \"/tmp/x.sock\"\n" +
                              "[monitor]\nenabled = true\n[approval]\nttl_seconds = 30\n");
  std::optional<Settings> s = LoadSettings(path, true, errors);
  ASSERT_TRUE(s) << errors[0];
  EXPECT_EQ(s->daemon.socket.path, "/tmp/x.sock");
  EXPECT_TRUE(s->monitor.enabled);
  EXPECT_TRUE(s->policy->privilege.enabled);
  EXPECT_EQ(s->approval.ttl.count(), 30);
  EXPECT_EQ(s->path, path);
}

TEST(LoadSettings, AGivenFileMustExist) {
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadSettings("/nonexistent/config.toml", true, errors));
  EXPECT_TRUE(Mentions(errors, "cannot read /nonexistent/config.toml")) << errors[0];
}

TEST(LoadSettings, AnyBadKeyInAnySectionYieldsNothing) {
  TempDir dir;
  std::vector<std::string> errors;
  const std::string path =
      dir.Write("c.toml", "[server]\ndrain_timeout_ms = -1\n[monitor]\ncpu = 2\n[colour]\n");
  EXPECT_FALSE(LoadSettings(path, true, errors));
  EXPECT_TRUE(Mentions(errors, "colour: unknown section"));
  errors.clear();
  const std::string bad_keys =
      dir.Write("d.toml", "[server]\ndrain_timeout_ms = -1\n[monitor]\ncpu = 2\n");
  EXPECT_FALSE(LoadSettings(bad_keys, true, errors));
  EXPECT_TRUE(Mentions(errors, "server.drain_timeout_ms"));
  EXPECT_TRUE(Mentions(errors, "monitor.cpu: must be a ratio from 0 to 1"));
}

TEST(LoadSettings, ApprovalsNeedBothStartsGated) {
  TempDir dir;
  std::vector<std::string> errors;
  const std::string path =
      dir.Write("c.toml", std::string(kNoFiles) +
                              "[gate]\nmethods = [\"StartContainer\"]\n[approval]\nenabled = true\n"
                              "[token]\nenabled = false\nrequired_for = []\n");
  EXPECT_FALSE(LoadSettings(path, true, errors));
  EXPECT_TRUE(Mentions(errors, "approval.enabled: RunPodSandbox must be in gate.methods"));
}

TEST(RestartOnlyChanges, NamesWhatAReloadCannotApply) {
  TempDir dir;
  std::vector<std::string> errors;
  const std::string store = dir.Write("trust.toml", "[[rule]]\nimage = \"*\"\n");
  auto load = [&](const std::string& text) {
    std::optional<Settings> s = LoadSettings(dir.Write("c.toml", text), true, errors);
    if (!s) ADD_FAILURE() << errors[0];
    return s.value_or(Settings{});
  };
  const std::string base = "[trust]\nstore = \"" + store + "\"\n[token]\nenabled = false\n";
  Settings before = load(base + "[server]\ndrain_timeout_ms = 5000\n");
  // The privilege stage's users and the trust rules are rebuilt on reload.
  Settings reloadable =
      load(base + "[server]\ndrain_timeout_ms = 5000\n[privilege]\nsuper_uids = [0, 7]\n");
  EXPECT_TRUE(RestartOnlyChanges(before, reloadable).empty());
  Settings restart = load(
      "[trust]\nenabled = false\n[server]\ndrain_timeout_ms = 6000\n"
      "[token]\nenabled = false\nuse_store = \"/tmp/elsewhere\"\n");
  std::vector<std::string> changed = RestartOnlyChanges(before, restart);
  EXPECT_EQ(changed, (std::vector<std::string>{"server", "token.use_store"}));
}

// The endpoint is bound at start: [metrics] takes a restart, and a
// non-loopback address keeps the whole file from loading.
TEST(LoadSettings, MetricsAreReadAndTakeARestart) {
  TempDir dir;
  std::vector<std::string> errors;
  const std::string base = std::string(kNoFiles) + "[token]\nenabled = false\n";
  std::optional<Settings> off = LoadSettings(dir.Write("a.toml", base), true, errors);
  ASSERT_TRUE(off) << errors[0];
  EXPECT_FALSE(off->metrics.enabled);
  std::optional<Settings> on = LoadSettings(
      dir.Write("b.toml", base + "[metrics]\nenabled = true\nlisten = \"127.0.0.1:9300\"\n"), true,
      errors);
  ASSERT_TRUE(on) << errors[0];
  EXPECT_TRUE(on->metrics.enabled);
  EXPECT_EQ(on->metrics.listen, "127.0.0.1:9300");
  EXPECT_EQ(RestartOnlyChanges(*off, *on), (std::vector<std::string>{"metrics"}));
  EXPECT_FALSE(LoadSettings(dir.Write("c.toml", base + "[metrics]\nlisten = \"0.0.0.0:9300\"\n"),
                            true, errors));
  EXPECT_TRUE(Mentions(errors, "metrics.listen: 0.0.0.0 is not a loopback address"));
}

TEST(LoadSettings, TheChannelsTokenKeyDirectoryMustBeOneOfTheTokenKeys) {
  TempDir dir;
  dir.Write("keys/k.pub", "");  // the directory; its content is not read here
  const std::string channel =
      "[channel]\nenabled = true\nca_file = \"a\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
      "token_keys_dir = \"" +
      dir.path() + "/cloud-keys\"\n";
  std::vector<std::string> errors;
  const std::string path =
      dir.Write("c.toml", std::string(kNoFiles) +
                              "[token]\nenabled = false\n[node]\nid = \"gw-a\"\n" + channel);
  EXPECT_FALSE(LoadSettings(path, true, errors));
  EXPECT_TRUE(Mentions(
      errors, "channel.token_keys_dir: " + dir.path() + "/cloud-keys must also be in token.keys"));
  // The channel is a restart-only section.
  bool restart_only = false;
  for (const char* const* name = kRestartOnly; *name != nullptr; ++name) {
    restart_only = restart_only || std::string(*name) == "channel";
  }
  EXPECT_TRUE(restart_only);
}

}  // namespace
}  // namespace crigate::cri
