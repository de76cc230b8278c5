#include "cri/daemon/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace crigate::cri {
namespace {

struct Parsed {
  bool ok;
  DaemonConfig config;
  std::vector<std::string> errors;
};

Parsed ParseText(std::string_view text) {
  Parsed p;
  toml::table root = toml::parse(text);
  p.ok = ParseDaemonConfig(root, &p.config, &p.errors);
  return p;
}

bool HasErrorAbout(const Parsed& p, std::string_view key) {
  for (const auto& e : p.errors) {
    if (e.rfind(std::string(key) + ":", 0) == 0) return true;
  }
  return false;
}

TEST(DaemonConfig, EmptyFileMeansDefaults) {
  Parsed p = ParseText("");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.config.socket.path, "/run/crigate/crigate.sock");
  EXPECT_EQ(p.config.socket.mode, 0660u);
  EXPECT_EQ(p.config.backend_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(p.config.log_level, log::Level::kInfo);
}

TEST(DaemonConfig, ReadsEveryKey) {
  Parsed p = ParseText(R"(
[server]
socket = "/tmp/x/crigate.sock"
socket_mode = "0600"
socket_owner = 0
socket_group = "root"
drain_timeout_ms = 500
decision_threads = 2
front_end = "grpc"
[backend]
endpoint = "unix:///tmp/c.sock"
[log]
level = "debug"
)");
  ASSERT_TRUE(p.ok) << (p.errors.empty() ? "" : p.errors[0]);
  EXPECT_EQ(p.config.socket.path, "/tmp/x/crigate.sock");
  EXPECT_EQ(p.config.socket.mode, 0600u);
  EXPECT_EQ(p.config.socket.owner, 0u);
  EXPECT_EQ(p.config.socket.group, 0u);
  EXPECT_EQ(p.config.drain_timeout_ms, 500);
  EXPECT_EQ(p.config.decision_threads, 2);
  EXPECT_EQ(p.config.front_end, FrontEnd::kGrpc);
  EXPECT_EQ(p.config.backend_endpoint, "unix:///tmp/c.sock");
  EXPECT_EQ(p.config.log_level, log::Level::kDebug);
}

TEST(DaemonConfig, TheEventLoopServesUnlessTold) {
  EXPECT_EQ(ParseText("").config.front_end, FrontEnd::kRelay);
  EXPECT_EQ(ParseText("[server]\nfront_end = \"relay\"\n").config.front_end, FrontEnd::kRelay);
}

TEST(DaemonConfig, OctalIntegerModeAccepted) {
  Parsed p = ParseText("[server]\nsocket_mode = 0o640\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.config.socket.mode, 0640u);
}

TEST(DaemonConfig, EachBadKeyIsNamed) {
  struct Case {
    const char* text;
    const char* key;
  } cases[] = {
      {"[server]\nsocket = \"relative.sock\"\n", "server.socket"},
      {"[server]\nsocket = 7\n", "server.socket"},
      {"[server]\nsocket_mode = \"0999\"\n", "server.socket_mode"},
      {"[server]\nsocket_mode = \"rw-rw----\"\n", "server.socket_mode"},
      {"[server]\nsocket_group = \"no-such-group-crigate\"\n", "server.socket_group"},
      {"[server]\nsocket_owner = -5\n", "server.socket_owner"},
      {"[server]\ndrain_timeout_ms = -1\n", "server.drain_timeout_ms"},
      {"[server]\ndecision_threads = 0\n", "server.decision_threads"},
      {"[server]\nsoket = \"/x\"\n", "server.soket"},
      {"[server]\nfront_end = \"envoy\"\n", "server.front_end"},
      {"[backend]\nendpoint = \"tcp://1.2.3.4:5\"\n", "backend.endpoint"},
      {"[backend]\nendpoint = \"\"\n", "backend.endpoint"},
      {"[log]\nlevel = \"loud\"\n", "log.level"},
      {"server = 3\n", "server"},
  };
  for (const auto& c : cases) {
    Parsed p = ParseText(c.text);
    EXPECT_FALSE(p.ok) << c.text;
    EXPECT_TRUE(HasErrorAbout(p, c.key))
        << c.text << " -> " << (p.errors.empty() ? "no error" : p.errors[0]);
  }
}

TEST(LoadToml, SyntaxErrorNamesFileAndLine) {
  std::string path = ::testing::TempDir() + "/broken.toml";
  std::ofstream(path) << "[server]\nsocket = \"/x\"\nsocket_mode = \n";
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadToml(path, &errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(path + ":3:", 0), 0u) << errors[0];
}

TEST(LoadToml, MissingFileIsAnError) {
  std::vector<std::string> errors;
  EXPECT_FALSE(LoadToml("/nonexistent/crigate.toml", &errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace crigate::cri
