#include "policy/channel/bundle_cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "policy/channel/bundle.h"
#include "policy/testing.h"

namespace crigate::channel {
namespace {

using policy::JwsAlg;
using policy::testing::NewKey;
using policy::testing::TempDir;

struct CliRun {
  int code;
  std::string out, err;
};

class BundleCliTest : public ::testing::Test {
 protected:
  BundleCliTest() {
    for (const char* sub : {"/cloud-keys", "/token-keys", "/stranger"}) {
      ::mkdir((dir_.path() + sub).c_str(), 0755);
    }
    auto cloud = NewKey(JwsAlg::kEdDSA, "cloud-1");
    cloud_key_ = dir_.Write("cloud-1.key", *cloud->PrivatePem());
    cloud_pub_ = dir_.Write("cloud-keys/cloud-1.pub", *cloud->PublicPem());
    auto token = NewKey(JwsAlg::kES256, "edge-1");
    dir_.Write("token-keys/edge-1.pub", *token->PublicPem());
    dir_.Write("token-keys/README", "not a key");
    trust_ = dir_.Write("trust.toml", "[[rule]]\nname = \"busybox\"\nimage = \"busybox\"\n");
  }

  CliRun Cli(std::vector<std::string> args, const std::string& input = {}) {
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunBundleCli(args, in, out, err);
    return {code, out.str(), err.str()};
  }

  TempDir dir_;
  std::string cloud_key_, cloud_pub_, trust_;
};

TEST_F(BundleCliTest, SignedBundlesVerifyAndSayWhatTheyCarry) {
  CliRun signed_bundle =
      Cli({"sign", "--key", cloud_key_, "--node", "gw-a", "--version", "7", "--trust-store", trust_,
           "--token-keys", dir_.path() + "/token-keys"});
  ASSERT_EQ(signed_bundle.code, 0) << signed_bundle.err;
  const std::string bundle = signed_bundle.out.substr(0, signed_bundle.out.size() - 1);

  // What a gateway would check, from a file and from stdin.
  const std::string file = dir_.Write("gw-a.jws", signed_bundle.out);
  for (const auto& source : {file, std::string("-")}) {
    CliRun verified =
        Cli({"verify", "--keys", dir_.path() + "/cloud-keys", "--node", "gw-a", source},
            signed_bundle.out);
    ASSERT_EQ(verified.code, 0) << verified.err;
    EXPECT_NE(verified.out.find("ok: node gw-a version 7 signed by cloud-1"), std::string::npos)
        << verified.out;
    EXPECT_NE(verified.out.find("token_keys: edge-1"), std::string::npos) << verified.out;
  }

  // The kid defaults to the key file's name, and the README is not a key.
  auto keys = policy::KeySet::Of({*policy::JwsKey::LoadPem(cloud_pub_, "cloud-1", false)});
  base::Result<BundleContent> content = VerifyBundle(bundle, *keys);
  ASSERT_TRUE(content.ok()) << content.error();
  EXPECT_EQ(content->token_keys->size(), 1u);
}

TEST_F(BundleCliTest, VerifyRefusesAnotherNodeAndAnotherKey) {
  CliRun signed_bundle = Cli(
      {"sign", "--key", cloud_key_, "--node", "gw-a", "--version", "1", "--trust-store", trust_});
  ASSERT_EQ(signed_bundle.code, 0) << signed_bundle.err;
  CliRun other_node =
      Cli({"verify", "--keys", cloud_pub_, "--node", "gw-b", "-"}, signed_bundle.out);
  EXPECT_EQ(other_node.code, 1);
  EXPECT_NE(other_node.err.find("refused: bundle is for node gw-a, not gw-b"), std::string::npos)
      << other_node.err;

  auto stranger = NewKey(JwsAlg::kEdDSA, "cloud-1");
  const std::string stranger_pub = dir_.Write("stranger/cloud-1.pub", *stranger->PublicPem());
  CliRun other_key = Cli({"verify", "--keys", stranger_pub, "-"}, signed_bundle.out);
  EXPECT_EQ(other_key.code, 1);
  EXPECT_NE(other_key.err.find("refused: bundle signature does not verify with key cloud-1"),
            std::string::npos)
      << other_key.err;
}

TEST_F(BundleCliTest, SignRefusesWhatAGatewayWouldRefuseAndBadUsage) {
  const std::string broken = dir_.Write("broken.toml", "[[rule]]\nname = 3\n");
  CliRun r = Cli(
      {"sign", "--key", cloud_key_, "--node", "gw-a", "--version", "1", "--trust-store", broken});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("a gateway would refuse this bundle: bundle trust_store is not valid"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());

  EXPECT_EQ(Cli({"sign", "--key", cloud_key_, "--node", "gw-a", "--version", "0", "--trust-store",
                 trust_})
                .code,
            2);
  EXPECT_EQ(Cli({"sign", "--key", cloud_key_, "--node", "gw-a", "--version", "1"}).code, 2);
  EXPECT_EQ(Cli({"sign", "--node", "gw-a", "--version", "1", "--trust-store", trust_}).code, 2);
  EXPECT_EQ(Cli({"sign", "--key", cloud_pub_, "--node", "gw-a", "--version", "1", "--trust-store",
                 trust_})
                .code,
            1);  // a public key cannot sign
  EXPECT_EQ(Cli({"frobnicate"}).code, 2);
  EXPECT_EQ(Cli({}).code, 2);
}

}  // namespace
}  // namespace crigate::channel
