#include "policy/channel/bundle.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "policy/base/base64url.h"
#include "policy/base/files.h"
#include "policy/jws.h"
#include "policy/testing.h"
#include "policy/token.h"

namespace crigate::channel {
namespace {

using policy::JwsAlg;
using policy::testing::NewKey;
using policy::testing::PublicOf;
using policy::testing::TempDir;

constexpr char kTrust[] = R"([[rule]]
name = "busybox"
image = "docker.io/library/busybox:*"
)";
constexpr char kOtherTrust[] = R"([[rule]]
name = "nginx"
image = "docker.io/library/nginx:*"
)";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

class BundleTest : public ::testing::Test {
 protected:
  BundleTest()
      : cloud_(NewKey(JwsAlg::kEdDSA, "cloud-1")),
        keys_(policy::KeySet::Of({PublicOf(*cloud_)})),
        token_key_(NewKey(JwsAlg::kES256, "edge-1")) {}

  BundleContent Content(uint64_t version, const char* trust = kTrust) const {
    BundleContent c;
    c.node = "gw-a";
    c.version = version;
    c.trust_store = trust;
    return c;
  }
  std::string Sign(const BundleContent& c, const policy::JwsKey* key = nullptr) const {
    auto jws = policy::SignJws(BundlePayload(c), kBundleTyp, key ? *key : *cloud_);
    EXPECT_TRUE(jws.ok()) << jws.error();
    return *jws;
  }
  std::string SignPayload(const std::string& payload) const {
    return *policy::SignJws(payload, kBundleTyp, *cloud_);
  }
  std::string PublicPem(const policy::JwsKey& key) const { return *key.PublicPem(); }

  BundleTargets Targets() const {
    BundleTargets t;
    t.node_id = "gw-a";
    t.trust_store_path = dir_.path() + "/trust.toml";
    t.token_keys_dir = dir_.path() + "/keys";
    t.state_dir = dir_.path() + "/state";
    return t;
  }
  std::unique_ptr<BundleApplier> Open() {
    auto applier = BundleApplier::Open(Targets(), keys_, [this](const std::string& why) {
      reloads_.push_back(why);
      // What the daemon's reload would read: the files as they are now.
      seen_trust_ = ReadAll(Targets().trust_store_path);
      return reload_result_;
    });
    EXPECT_TRUE(applier.ok()) << applier.error();
    return std::move(applier).value();
  }

  TempDir dir_;
  std::shared_ptr<const policy::JwsKey> cloud_;
  std::shared_ptr<const policy::KeySet> keys_;
  std::shared_ptr<const policy::JwsKey> token_key_;
  std::vector<std::string> reloads_;
  std::string seen_trust_;
  base::Status reload_result_;
};

TEST_F(BundleTest, ASignedBundleVerifiesAndCarriesItsContent) {
  BundleContent c = Content(7);
  c.token_keys = std::map<std::string, std::string>{{"edge-1", PublicPem(*token_key_)}};
  base::Result<BundleContent> got = VerifyBundle(Sign(c), *keys_);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->node, "gw-a");
  EXPECT_EQ(got->version, 7u);
  EXPECT_EQ(*got->trust_store, kTrust);
  ASSERT_TRUE(got->token_keys.has_value());
  EXPECT_EQ(got->token_keys->count("edge-1"), 1u);
  EXPECT_EQ(got->signed_by, "cloud-1");
}

TEST_F(BundleTest, ATamperedPayloadIsRefused) {
  std::string jws = Sign(Content(7));
  const size_t dot1 = jws.find('.'), dot2 = jws.find('.', dot1 + 1);
  // The same structure with another trust store, under the old signature.
  std::string forged_payload = BundlePayload(Content(7, kOtherTrust));
  std::string forged =
      jws.substr(0, dot1 + 1) + base::Base64UrlEncode(forged_payload) + jws.substr(dot2);
  base::Result<BundleContent> got = VerifyBundle(forged, *keys_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), base::Code::UNAUTHENTICATED);
  EXPECT_NE(got.error().find("signature does not verify with key cloud-1"), std::string::npos)
      << got.error();
}

TEST_F(BundleTest, ABundleSignedByAnUnknownKeyIsRefused) {
  auto stranger = NewKey(JwsAlg::kEdDSA, "cloud-2");
  base::Result<BundleContent> got = VerifyBundle(Sign(Content(7), stranger.get()), *keys_);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().find("kid 'cloud-2' names no configured key"), std::string::npos)
      << got.error();
  // The same kid as a trusted key, but another key: the signature fails.
  auto impostor = NewKey(JwsAlg::kEdDSA, "cloud-1");
  got = VerifyBundle(Sign(Content(7), impostor.get()), *keys_);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().find("signature does not verify"), std::string::npos) << got.error();
}

TEST_F(BundleTest, ACallTokenIsNotABundle) {
  policy::TokenClaims claims;
  claims.sub = "x";
  claims.act = {"PullImage"};
  claims.node = "gw-a";
  claims.exp = 4'000'000'000;
  claims.jti = "j";
  auto token = policy::IssueToken(claims, *cloud_);
  ASSERT_TRUE(token.ok());
  base::Result<BundleContent> got = VerifyBundle(*token, *keys_);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().find("bundle typ is not crigate-bundle+jws"), std::string::npos)
      << got.error();
}

TEST_F(BundleTest, MalformedPayloadsAreRefusedWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"node":"gw-a","version":7,"trust_store":"","extra":1})",
       "field 'extra' is not understood"},
      {R"({"version":7,"trust_store":""})", "has no node"},
      {R"({"node":"gw-a","version":0,"trust_store":""})", "has no version"},
      {R"({"node":"gw-a","version":-3,"trust_store":""})", "has no version"},
      {R"({"node":"gw-a","version":"7","trust_store":""})", "has no version"},
      {R"({"node":"gw-a","version":7})", "carries neither trust_store nor token_keys"},
      {R"({"node":"gw-a","version":7,"trust_store":"[[rule]"})", "trust_store is not TOML"},
      {R"({"node":"gw-a","version":7,"trust_store":"[[rule]]\nname = 3\n"})",
       "trust_store is not valid"},
      {R"({"node":"gw-a","version":7,"token_keys":{"../evil":"x"}})", "is not a file name"},
      {R"({"node":"gw-a","version":7,"token_keys":{"k":"not a pem"}})", "token key k:"},
      {R"([1,2])", "payload is not a JSON object"},
  };
  for (const auto& [payload, reason] : cases) {
    base::Result<BundleContent> got = VerifyBundle(SignPayload(payload), *keys_);
    ASSERT_FALSE(got.ok()) << payload;
    EXPECT_EQ(got.code(), base::Code::INVALID_ARGUMENT) << payload;
    EXPECT_NE(got.error().find(reason), std::string::npos) << payload << " -> " << got.error();
  }
}

TEST_F(BundleTest, AnAppliedBundleIsWrittenReloadedAndRemembered) {
  auto applier = Open();
  EXPECT_EQ(applier->version(), 0u);
  BundleContent c = Content(3);
  c.token_keys = std::map<std::string, std::string>{{"edge-1", PublicPem(*token_key_)}};
  BundleOutcome out = applier->Offer(Sign(c));
  EXPECT_EQ(out.kind, BundleOutcome::Kind::kApplied) << out.reason;
  EXPECT_EQ(out.version, 3u);
  EXPECT_EQ(out.in_force, 3u);
  EXPECT_EQ(out.signed_by, "cloud-1");
  ASSERT_EQ(reloads_.size(), 1u);
  EXPECT_EQ(reloads_[0], "cloud bundle v3");
  EXPECT_EQ(seen_trust_, kTrust);  // the reload saw the new file
  EXPECT_EQ(ReadAll(Targets().token_keys_dir + "/edge-1.pub"), PublicPem(*token_key_));
  EXPECT_EQ(ReadAll(Targets().state_dir + "/policy-version"), "3\n");

  // A restart remembers the version: an older bundle is a rollback.
  applier = Open();
  EXPECT_EQ(applier->version(), 3u);
  out = applier->Offer(Sign(Content(2, kOtherTrust)));
  EXPECT_EQ(out.kind, BundleOutcome::Kind::kRefused);
  EXPECT_NE(out.reason.find("older than version 3 in force (rollback)"), std::string::npos)
      << out.reason;
  EXPECT_EQ(ReadAll(Targets().trust_store_path), kTrust);
  EXPECT_EQ(reloads_.size(), 1u);
}

TEST_F(BundleTest, TheSameVersionAgainIsAlreadyAppliedAndChangesNothing) {
  auto applier = Open();
  ASSERT_EQ(applier->Offer(Sign(Content(5))).kind, BundleOutcome::Kind::kApplied);
  // The broker redelivers the retained bundle at every reconnect; a bundle
  // with the same version and other content changes nothing either.
  BundleOutcome out = applier->Offer(Sign(Content(5, kOtherTrust)));
  EXPECT_EQ(out.kind, BundleOutcome::Kind::kAlreadyApplied);
  EXPECT_EQ(ReadAll(Targets().trust_store_path), kTrust);
  EXPECT_EQ(reloads_.size(), 1u);
}

TEST_F(BundleTest, ABundleForAnotherNodeIsRefused) {
  auto applier = Open();
  BundleContent c = Content(9);
  c.node = "gw-b";
  BundleOutcome out = applier->Offer(Sign(c));
  EXPECT_EQ(out.kind, BundleOutcome::Kind::kRefused);
  EXPECT_NE(out.reason.find("bundle is for node 'gw-b', and this is node gw-a"), std::string::npos)
      << out.reason;
  EXPECT_FALSE(Exists(Targets().trust_store_path));
  EXPECT_TRUE(reloads_.empty());
}

TEST_F(BundleTest, ARefusedReloadPutsThePreviousFilesBack) {
  auto applier = Open();
  BundleContent first = Content(1);
  first.token_keys = std::map<std::string, std::string>{{"edge-1", PublicPem(*token_key_)}};
  ASSERT_EQ(applier->Offer(Sign(first)).kind, BundleOutcome::Kind::kApplied);

  auto other_key = NewKey(JwsAlg::kEdDSA, "edge-2");
  BundleContent second = Content(2, kOtherTrust);
  second.token_keys = std::map<std::string, std::string>{{"edge-2", PublicPem(*other_key)}};
  reload_result_ = base::Status::InvalidArgument("token.keys[1]: duplicate kid");
  BundleOutcome out = applier->Offer(Sign(second));
  EXPECT_EQ(out.kind, BundleOutcome::Kind::kRefused);
  EXPECT_NE(out.reason.find("the new policy did not load, the previous one stays: token.keys[1]"),
            std::string::npos)
      << out.reason;
  EXPECT_EQ(seen_trust_, kOtherTrust);  // the reload was tried with the new files
  EXPECT_EQ(ReadAll(Targets().trust_store_path), kTrust);
  EXPECT_EQ(ReadAll(Targets().token_keys_dir + "/edge-1.pub"), PublicPem(*token_key_));
  EXPECT_FALSE(Exists(Targets().token_keys_dir + "/edge-2.pub"));
  EXPECT_EQ(applier->version(), 1u);
  EXPECT_EQ(ReadAll(Targets().state_dir + "/policy-version"), "1\n");
}

TEST_F(BundleTest, ANewKeySetReplacesTheOldOne) {
  auto applier = Open();
  BundleContent first = Content(1);
  first.token_keys = std::map<std::string, std::string>{{"edge-1", PublicPem(*token_key_)}};
  ASSERT_EQ(applier->Offer(Sign(first)).kind, BundleOutcome::Kind::kApplied);
  auto other_key = NewKey(JwsAlg::kEdDSA, "edge-2");
  BundleContent second;
  second.node = "gw-a";
  second.version = 2;
  second.token_keys = std::map<std::string, std::string>{{"edge-2", PublicPem(*other_key)}};
  ASSERT_EQ(applier->Offer(Sign(second)).kind, BundleOutcome::Kind::kApplied);
  EXPECT_FALSE(Exists(Targets().token_keys_dir + "/edge-1.pub"));
  EXPECT_TRUE(Exists(Targets().token_keys_dir + "/edge-2.pub"));
  EXPECT_EQ(ReadAll(Targets().trust_store_path), kTrust);  // not in the bundle: untouched
}

TEST_F(BundleTest, AnUnreadableVersionFileStopsTheStartRatherThanForgetting) {
  ::mkdir(Targets().state_dir.c_str(), 0700);
  dir_.Write("state/policy-version", "seven\n");
  auto applier = BundleApplier::Open(Targets(), keys_, nullptr);
  ASSERT_FALSE(applier.ok());
  EXPECT_NE(applier.error().find("policy-version: not a bundle version"), std::string::npos)
      << applier.error();
}

TEST_F(BundleTest, GarbageOnThePolicyTopicIsRefusedNotFatal) {
  auto applier = Open();
  for (std::string garbage : {std::string("hello"), std::string("a.b.c"), std::string(2 << 20, 'x'),
                              std::string("\0\0\0", 3)}) {
    BundleOutcome out = applier->Offer(garbage);
    EXPECT_EQ(out.kind, BundleOutcome::Kind::kRefused);
    EXPECT_EQ(out.version, 0u);
    EXPECT_FALSE(out.reason.empty());
  }
  EXPECT_TRUE(reloads_.empty());
}

}  // namespace
}  // namespace crigate::channel
