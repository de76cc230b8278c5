#include "policy/channel/channel_config.h"

#include <gtest/gtest.h>

#include "policy/base/text.h"

namespace crigate::channel {
namespace {

ChannelConfig Parse(std::string_view text, std::vector<std::string>& errors,
                    const std::string& node = "gw-a") {
  toml::table root = toml::parse(text);
  return ParseChannelConfig(root, node, errors);
}

constexpr char kValid[] = R"(
[channel]
enabled = true
host = "broker.example"
port = 8883
ca_file = "/etc/crigate/broker-ca.crt"
cert_file = "/etc/crigate/gw.crt"
key_file = "/etc/crigate/gw.key"
token_keys_dir = "/var/lib/crigate/cloud-token-keys"
)";

TEST(ChannelConfig, AbsentIsDisabledWithDefaults) {
  std::vector<std::string> errors;
  ChannelConfig c = Parse("", errors);
  EXPECT_TRUE(errors.empty()) << base::Join(errors, "; ");
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.client_id, "gw-a");
  EXPECT_EQ(c.Topic("gw-a", "policy/ack"), "crigate/gw-a/policy/ack");
}

TEST(ChannelConfig, AValidSectionIsRead) {
  std::vector<std::string> errors;
  ChannelConfig c = Parse(kValid, errors);
  EXPECT_TRUE(errors.empty()) << base::Join(errors, "; ");
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.host, "broker.example");
  EXPECT_EQ(c.token_keys_dir, "/var/lib/crigate/cloud-token-keys");
  EXPECT_EQ(c.spool_max_events, 10000u);
}

TEST(ChannelConfig, EachMistakeNamesItsKey) {
  const std::pair<std::string, std::string> cases[] = {
      {"[channel]\nenabled = true\nhost = \"b\"\ncert_file = \"c\"\nkey_file = \"k\"\n",
       "channel.ca_file: required with tls"},
      {"[channel]\nenabled = true\ntls = false\nhost = \"10.0.0.1\"\nusername = \"u\"\n"
       "password_file = \"p\"\n",
       "channel.tls: may be false only for a broker on loopback"},
      {"[channel]\nenabled = true\nca_file = \"a\"\n", "channel.cert_file: the broker must know"},
      {"[channel]\nenabled = true\nca_file = \"a\"\ncert_file = \"c\"\n",
       "cert_file and key_file go together"},
      {"[channel]\nenabled = true\nca_file = \"a\"\nusername = \"u\"\n",
       "channel.password_file: required with username"},
      {"[channel]\nenabled = true\nca_file = \"a\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
       "prefix = \"fleet/#\"\n",
       "channel.prefix: must be MQTT topic levels"},
      {"[channel]\nenabled = true\nca_file = \"a\"\ncert_file = \"c\"\nkey_file = \"k\"\n"
       "bundle_keys = []\n",
       "channel.bundle_keys: names no key"},
      {"[channel]\nbroker = \"x\"\n", "channel.broker"},
      {"[channel]\nport = 0\n", "channel.port"},
  };
  for (const auto& [text, wanted] : cases) {
    std::vector<std::string> errors;
    Parse(text, errors);
    const std::string all = base::Join(errors, "; ");
    EXPECT_NE(all.find(wanted), std::string::npos) << text << " -> " << all;
  }
}

TEST(ChannelConfig, TheNodeIdMustBeOneTopicLevel) {
  std::vector<std::string> errors;
  Parse(kValid, errors, "site/gw-a");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("node.id: the cloud channel addresses this node by it"),
            std::string::npos)
      << errors[0];
}

}  // namespace
}  // namespace crigate::channel
