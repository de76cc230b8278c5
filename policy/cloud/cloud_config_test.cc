#include "policy/cloud/cloud_config.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

std::shared_ptr<const CloudConfig> Parse(const std::string& text,
                                         std::vector<std::string>& errors) {
  toml::table root = toml::parse(text);
  return ParseCloudConfig(root, errors);
}

TEST(CloudConfig, AbsentSectionIsDisabledWithDefaults) {
  std::vector<std::string> errors;
  auto config = Parse("", errors);
  ASSERT_TRUE(config) << ::testing::PrintToString(errors);
  EXPECT_FALSE(config->enabled);
  EXPECT_EQ(config->timeout.count(), 2000);
  EXPECT_EQ(config->connect_timeout.count(), 1000);
  EXPECT_EQ(config->cache_ttl.count(), 5000);
  EXPECT_EQ(config->cache_size, 10000u);
  EXPECT_FALSE(config->failure_mode_allow);
  EXPECT_EQ(config->event_queue_size, 1000u);
  EXPECT_EQ(config->event_retry_max, 5);
  EXPECT_EQ(config->node_key_file, "/etc/crigate/node.key");
}

TEST(CloudConfig, DisabledDoesNotReadFiles) {
  std::vector<std::string> errors;
  auto config = Parse("[cloud]\nnode_key_file = \"/nonexistent\"\nca_file = \"/nope\"\n", errors);
  EXPECT_TRUE(config) << ::testing::PrintToString(errors);
}

TEST(CloudConfig, EnabledReadsEverything) {
  TempDir dir;
  const std::string key = dir.Write("node.key", testing::kNodeKey + "\n");
  const std::string ca = dir.Write("ca.pem", "x", 0644);
  const std::string cert = dir.Write("client.pem", "x", 0644);
  const std::string pkey = dir.Write("client.key", "x");
  std::vector<std::string> errors;
  auto config = Parse(R"(
[cloud]
enabled = true
url = "https://authz.example:8443/v1/data/crigate"
events_url = "https://authz.example:8443/v1/events"
timeout_ms = 500
connect_timeout_ms = 900
ca_file = ")" + ca + R"("
cert_file = ")" + cert + R"("
key_file = ")" + pkey + R"("
node_key_file = ")" + key +
                          R"("
node_mac = "02:00:00:00:00:01"
cache_ttl_ms = 0
cache_size = 5
failure_mode_allow = true
event_queue_size = 7
event_retry_max = 0
)",
                      errors);
  ASSERT_TRUE(config) << ::testing::PrintToString(errors);
  EXPECT_TRUE(config->enabled);
  EXPECT_EQ(config->timeout.count(), 500);
  EXPECT_EQ(config->connect_timeout.count(), 500);  // capped at the whole call's
  EXPECT_EQ(config->node_key, testing::kNodeKey);   // trailing newline removed
  EXPECT_EQ(config->node_mac, "02:00:00:00:00:01");
  EXPECT_EQ(config->cache_ttl.count(), 0);
  EXPECT_EQ(config->cache_size, 5u);
  EXPECT_TRUE(config->failure_mode_allow);
  EXPECT_EQ(config->event_queue_size, 7u);
  EXPECT_EQ(config->event_retry_max, 0);
}

TEST(CloudConfig, ErrorsNameTheirKeys) {
  std::vector<std::string> errors;
  auto config = Parse(R"(
[cloud]
timeout_ms = 0
cache_size = -1
enabled = "yes"
url = 5
colour = "blue"
)",
                      errors);
  EXPECT_FALSE(config);
  EXPECT_THAT(errors, ::testing::UnorderedElementsAre(
                          "cloud.colour: unknown key", "cloud.enabled: must be true or false",
                          "cloud.url: must be a string",
                          "cloud.timeout_ms: must be an integer from 1 to 60000",
                          "cloud.cache_size: must be an integer from 0 to 10000000"));
}

TEST(CloudConfig, SectionMustBeATable) {
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse("cloud = 1\n", errors));
  EXPECT_THAT(errors, ElementsAre("cloud: must be a table ([cloud])"));
}

TEST(CloudConfig, EnabledNeedsUrlAndKey) {
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse("[cloud]\nenabled = true\nnode_key_file = \"/nonexistent/key\"\n", errors));
  EXPECT_THAT(errors, ElementsAre("cloud.url: required when cloud.enabled is true",
                                  HasSubstr("cloud.node_key_file: cannot read /nonexistent/key")));
}

TEST(CloudConfig, PlainHttpOnlyToLoopback) {
  TempDir dir;
  const std::string key = dir.Write("node.key", testing::kNodeKey);
  for (const char* url :
       {"http://127.0.0.1:8181/v1/data/crigate", "http://localhost:1/x", "http://[::1]:1/x"}) {
    std::vector<std::string> errors;
    EXPECT_TRUE(Parse(
        fmt::format("[cloud]\nenabled = true\nurl = \"{}\"\nnode_key_file = \"{}\"\n", url, key),
        errors))
        << url << ::testing::PrintToString(errors);
  }
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse(fmt::format("[cloud]\nenabled = true\nurl = \"http://10.0.0.1/x\"\n"
                                 "events_url = \"ftp://127.0.0.1/\"\nnode_key_file = \"{}\"\n",
                                 key),
                     errors));
  EXPECT_THAT(errors, ElementsAre(HasSubstr("cloud.url: plain http is allowed only to a loopback"),
                                  HasSubstr("cloud.events_url: scheme must be https")));
}

TEST(CloudConfig, TlsFilesNeedHttpsAndGoTogether) {
  TempDir dir;
  const std::string key = dir.Write("node.key", testing::kNodeKey);
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse(fmt::format("[cloud]\nenabled = true\nurl = \"http://127.0.0.1/x\"\n"
                                 "cert_file = \"{}\"\nnode_key_file = \"{}\"\n",
                                 key, key),
                     errors));
  EXPECT_THAT(errors, ElementsAre("cloud.key_file: cert_file and key_file go together (mTLS)",
                                  "cloud.cert_file: set, but no cloud URL is https"));
  errors.clear();
  EXPECT_FALSE(Parse(fmt::format("[cloud]\nenabled = true\nurl = \"https://a.example/x\"\n"
                                 "ca_file = \"{}\"\nnode_key_file = \"{}\"\n",
                                 dir.File("missing.pem"), key),
                     errors));
  EXPECT_THAT(errors, ElementsAre(HasSubstr("cloud.ca_file: cannot read")));
}

TEST(CloudConfig, NodeKeyMustBeOwnerOnlyAndLongEnough) {
  TempDir dir;
  std::string error;
  EXPECT_EQ(ReadNodeKey(dir.Write("open.key", testing::kNodeKey, 0644), error), "");
  EXPECT_THAT(error, HasSubstr("has mode 0644: group and others must have no access"));
  EXPECT_EQ(ReadNodeKey(dir.Write("short.key", "short\n"), error), "");
  EXPECT_THAT(error, HasSubstr("holds 6 bytes"));
  EXPECT_EQ(ReadNodeKey(dir.Write("good.key", testing::kNodeKey + " \n"), error),
            testing::kNodeKey);
  EXPECT_EQ(error, "");
}

TEST(CloudConfig, FirstInterfaceMacSkipsLoopbackAndZero) {
  TempDir dir;
  for (auto [name, mac] :
       std::vector<std::pair<std::string, std::string>>{{"lo", "00:00:00:00:00:00"},
                                                        {"a0", "00:00:00:00:00:00"},
                                                        {"eth1", "02:00:00:00:00:02"},
                                                        {"eth0", "02:00:00:00:00:01"}}) {
    std::filesystem::create_directories(dir.File(name));
    dir.Write(name + "/address", mac + "\n", 0644);
  }
  EXPECT_EQ(FirstInterfaceMac(dir.path()), "02:00:00:00:00:01");
  EXPECT_EQ(FirstInterfaceMac(dir.File("none")), "");
}

}  // namespace
}  // namespace crigate::cloud
