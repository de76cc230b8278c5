#include "policy/token_cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using testing::FakeClock;
using testing::TempDir;

struct CliRun {
  int code;
  std::string out, err;
};

class TokenCliTest : public ::testing::Test {
 protected:
  CliRun Cli(std::vector<std::string> args, const std::string& input = {}) {
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = RunTokenCli(args, in, out, err, clock_);
    return {code, out.str(), err.str()};
  }

  std::string Keygen(const std::string& type, const std::string& name) {
    std::string prefix = dir_.path() + "/" + name;
    CliRun r = Cli({"keygen", "--type", type, "--out", prefix});
    EXPECT_EQ(r.code, 0) << r.err;
    return prefix;
  }

  std::string Issue(const std::string& prefix, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"issue",
                                     "--key",
                                     prefix + ".key",
                                     "--sub",
                                     "ops",
                                     "--act",
                                     "CreateContainer,StartContainer",
                                     "--node",
                                     "gw-1"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.back(), '\n');
    return r.out.substr(0, r.out.size() - 1);
  }

  TempDir dir_;
  FakeClock clock_;
};

TEST_F(TokenCliTest, KeygenWritesAPrivateKeyOwnerOnlyAndNeverOverwrites) {
  std::string prefix = Keygen("ed25519", "edge");
  struct stat st {};
  ASSERT_EQ(stat((prefix + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((prefix + ".pub").c_str(), &st), 0);
  CliRun again = Cli({"keygen", "--type", "p256", "--out", prefix});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("File exists"), std::string::npos);
  EXPECT_EQ(Cli({"keygen", "--type", "rsa", "--out", prefix + "2"}).code, 2);
}

TEST_F(TokenCliTest, IssuedTokenVerifiesAndPrintsItsClaims) {
  for (const char* type : {"ed25519", "p256"}) {
    std::string prefix = Keygen(type, std::string("k-") + type);
    std::string token = Issue(prefix, {"--img", "busybox:1.36", "--ttl", "2m", "--jti", "fixed"});
    CliRun r = Cli({"verify", "--pub", prefix + ".pub", "--node", "gw-1", "--act", "StartContainer",
                    "--img", "docker.io/library/busybox:1.36", token});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = nlohmann::json::parse(r.out);
    EXPECT_EQ(report["valid"], true);
    EXPECT_EQ(report["kid"], std::string("k-") + type);
    EXPECT_EQ(report["alg"], std::string(type) == "ed25519" ? "EdDSA" : "ES256");
    EXPECT_EQ(report["claims"]["img"], "docker.io/library/busybox:1.36");  // normalised at issue
    EXPECT_EQ(report["claims"]["jti"], "fixed");
    EXPECT_EQ(report["claims"]["exp"].get<int64_t>() - report["claims"]["iat"].get<int64_t>(), 120);
  }
}

TEST_F(TokenCliTest, VerifyRefusesWithTheReasonAndExitOne) {
  std::string prefix = Keygen("ed25519", "ops");
  std::string other = Keygen("ed25519", "other");
  std::string token = Issue(prefix);
  CliRun r = Cli({"verify", "--pub", prefix + ".pub", "--node", "gw-2", token});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "crigate token verify: token is for node 'gw-1', and this is node 'gw-2'\n");
  r = Cli({"verify", "--pub", other + ".pub", "--kid", "ops", token});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not verify with key ops"), std::string::npos);
  r = Cli({"verify", "--pub", prefix + ".pub", "--act", "PullImage", token});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("token does not allow PullImage"), std::string::npos);
  clock_.Advance(std::chrono::hours(1));
  r = Cli({"verify", "--pub", prefix + ".pub", token});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("token expired at"), std::string::npos);
}

TEST_F(TokenCliTest, VerifyReadsStdinAndSurvivesGarbage) {
  std::string prefix = Keygen("p256", "ops");
  std::string token = Issue(prefix);
  EXPECT_EQ(Cli({"verify", "--pub", prefix + ".pub", "-"}, token + "\n").code, 0);
  CliRun r = Cli({"verify", "--pub", prefix + ".pub", "-"}, std::string(1 << 20, '\x01'));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("more than the 8192 allowed"), std::string::npos);
}

TEST_F(TokenCliTest, IssueNeedsAPrivateKeyAndValidArguments) {
  std::string prefix = Keygen("ed25519", "ops");
  CliRun r =
      Cli({"issue", "--key", prefix + ".pub", "--sub", "a", "--act", "PullImage", "--node", "n"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("holds no private key"), std::string::npos);
  r = Cli({"issue", "--key", prefix + ".key", "--sub", "a", "--act", "Launch"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'Launch' is not one of"), std::string::npos);
  r = Cli(
      {"issue", "--key", prefix + ".key", "--sub", "a", "--act", "PullImage", "--img", "Bad Ref"});
  EXPECT_EQ(r.code, 2);
  r = Cli({"issue", "--key", prefix + ".key", "--act", "PullImage"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--sub is required"), std::string::npos);
  r = Cli({"issue", "--key", prefix + ".key", "--sub", "a", "--act", "PullImage", "--ttl", "soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Cli({"issue", "--bogus", "x"}).code, 2);
  EXPECT_EQ(Cli({"frobnicate"}).code, 2);
  EXPECT_EQ(Cli({}).code, 2);
}

TEST_F(TokenCliTest, AutoJtiIsFreshEveryTime) {
  std::string prefix = Keygen("ed25519", "ops");
  std::string a = Issue(prefix), b = Issue(prefix);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace crigate::policy
