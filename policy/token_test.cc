#include "policy/token.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "policy/base/base64url.h"
#include "policy/base/time.h"
#include "policy/testing.h"

namespace crigate::policy {
namespace {

using nlohmann::json;
using testing::NewKey;
using testing::PublicOf;

constexpr int64_t kNow = 1'790'000'000;

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ed_ = NewKey(JwsAlg::kEdDSA, "edge-ed");
    ec_ = NewKey(JwsAlg::kES256, "edge-ec");
    keys_ = KeySet::Of({PublicOf(*ed_), PublicOf(*ec_)});
    check_.now = base::FromUnixSeconds(kNow);
    check_.node = "gw-1";
  }

  static TokenClaims Claims() {
    TokenClaims c;
    c.sub = "ops@example";
    c.act = {"CreateContainer", "StartContainer"};
    c.img = "docker.io/library/busybox:1.36";
    c.node = "gw-1";
    c.iat = kNow - 10;
    c.nbf = kNow - 10;
    c.exp = kNow + 290;
    c.jti = "j-1";
    return c;
  }

  std::string Issue(const TokenClaims& claims, const JwsKey& key) {
    Result<std::string> token = IssueToken(claims, key);
    EXPECT_TRUE(token.ok()) << token.error();
    return token.ok() ? *token : "";
  }

  // A token with any header and payload, signed by key over the usual input.
  static std::string Forge(const json& header, const std::string& payload, const JwsKey& key) {
    std::string input = base::Base64UrlEncode(header.dump()) + "." + base::Base64UrlEncode(payload);
    Result<std::string> signature = key.Sign(input);
    EXPECT_TRUE(signature.ok());
    return input + "." + base::Base64UrlEncode(signature.ok() ? *signature : "");
  }

  std::string Reason(const std::string& token) {
    Result<VerifiedToken> v = VerifyToken(token, *keys_, check_);
    EXPECT_FALSE(v.ok()) << "token was accepted: " << token.substr(0, 80);
    if (v.ok()) return "";
    EXPECT_EQ(v.code(), base::Code::UNAUTHENTICATED);
    return v.error();
  }

  std::shared_ptr<const JwsKey> ed_, ec_;
  std::shared_ptr<const KeySet> keys_;
  TokenCheck check_;
};

TEST_F(TokenTest, Ed25519TokenVerifiesWithItsClaims) {
  Result<VerifiedToken> v = VerifyToken(Issue(Claims(), *ed_), *keys_, check_);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->kid, "edge-ed");
  EXPECT_EQ(v->claims.sub, "ops@example");
  EXPECT_EQ(v->claims.act, (std::vector<std::string>{"CreateContainer", "StartContainer"}));
  EXPECT_EQ(v->claims.img, "docker.io/library/busybox:1.36");
  EXPECT_EQ(v->claims.exp, kNow + 290);
  EXPECT_EQ(v->claims.jti, "j-1");
  EXPECT_EQ(json::parse(v->claims_json)["node"], "gw-1");
}

TEST_F(TokenTest, Es256TokenUsesRawSixtyFourByteSignature) {
  std::string token = Issue(Claims(), *ec_);
  std::string signature = *base::Base64UrlDecode(token.substr(token.rfind('.') + 1));
  EXPECT_EQ(signature.size(), 64u);  // JOSE r||s, not DER
  Result<VerifiedToken> v = VerifyToken(token, *keys_, check_);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->kid, "edge-ec");
}

TEST_F(TokenTest, WithoutKidTheKeyOfTheHeaderAlgorithmIsTried) {
  json header = {{"alg", "ES256"}, {"typ", "JWT"}};
  Result<VerifiedToken> v = VerifyToken(Forge(header, ClaimsJson(Claims()), *ec_), *keys_, check_);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->kid, "edge-ec");
}

TEST_F(TokenTest, WrongSignatureIsRefusedNamingTheKey) {
  auto impostor = NewKey(JwsAlg::kEdDSA, "edge-ed");  // same kid, other key
  EXPECT_EQ(Reason(Issue(Claims(), *impostor)), "token signature does not verify with key edge-ed");
}

TEST_F(TokenTest, TamperedPayloadBreaksTheSignature) {
  std::string token = Issue(Claims(), *ed_);
  TokenClaims more = Claims();
  more.act.push_back("RunPodSandbox");
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string tampered =
      token.substr(0, dot1 + 1) + base::Base64UrlEncode(ClaimsJson(more)) + token.substr(dot2);
  EXPECT_NE(Reason(tampered).find("does not verify"), std::string::npos);
}

TEST_F(TokenTest, AlgNoneIsRefused) {
  std::string token = base::Base64UrlEncode(R"({"alg":"none","kid":"edge-ed"})") + "." +
                      base::Base64UrlEncode(ClaimsJson(Claims())) + ".";
  EXPECT_NE(Reason(token).find("alg 'none' is not accepted"), std::string::npos);
}

TEST_F(TokenTest, Hs256WithThePublicKeyAsSecretIsRefused) {
  std::string secret = *PublicOf(*ed_)->PublicPem();
  std::string input = base::Base64UrlEncode(R"({"alg":"HS256","kid":"edge-ed"})") + "." +
                      base::Base64UrlEncode(ClaimsJson(Claims()));
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  std::string token =
      input + "." + base::Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), length));
  EXPECT_NE(Reason(token).find("alg 'HS256' is not accepted"), std::string::npos);
}

TEST_F(TokenTest, AlgorithmSwappedAgainstTheKeyIsRefused) {
  // An ES256 signature presented under the Ed25519 key's kid.
  json header = {{"alg", "ES256"}, {"kid", "edge-ed"}};
  EXPECT_EQ(Reason(Forge(header, ClaimsJson(Claims()), *ec_)),
            "token alg 'ES256' does not match key edge-ed, which is EdDSA");
  // Header says EdDSA but the P-256 key is named.
  header = {{"alg", "EdDSA"}, {"kid", "edge-ec"}};
  EXPECT_EQ(Reason(Forge(header, ClaimsJson(Claims()), *ed_)),
            "token alg 'EdDSA' does not match key edge-ec, which is ES256");
  // No kid, and no configured key of the header's algorithm.
  auto only_ed = KeySet::Of({PublicOf(*ed_)});
  Result<VerifiedToken> v =
      VerifyToken(Forge({{"alg", "ES256"}}, ClaimsJson(Claims()), *ec_), *only_ed, check_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error(), "token alg 'ES256' matches no configured key");
}

TEST_F(TokenTest, DerEncodedEcdsaSignatureIsRefused) {
  // Sign the DER way (what OpenSSL produces natively); JOSE wants r||s.
  std::string token = Issue(Claims(), *ec_);
  std::string raw = *base::Base64UrlDecode(token.substr(token.rfind('.') + 1));
  std::string der = "\x30\x44\x02\x20" + raw.substr(0, 32) + "\x02\x20" + raw.substr(32);
  std::string forged = token.substr(0, token.rfind('.') + 1) + base::Base64UrlEncode(der);
  EXPECT_NE(Reason(forged).find("does not verify"), std::string::npos);
}

TEST_F(TokenTest, TimesBeyondTheClocksRangeAreRefusedNotOverflowed) {
  // Found by fuzz_token: an iat of 9999197990 s passed the range check
  // (2^40) and overflowed system_clock's nanoseconds when it was printed.
  for (const char* claim : {"iat", "nbf", "exp"}) {
    json payload = {{"sub", "a"},
                    {"act", {"StartContainer"}},
                    {"node", "gw-1"},
                    {"exp", kNow + 60},
                    {"jti", "j"}};
    payload[claim] = 9999197990;
    const std::string reason =
        Reason(Forge({{"alg", "EdDSA"}, {"kid", "edge-ed"}}, payload.dump(), *ed_));
    EXPECT_NE(reason.find("out of range"), std::string::npos) << claim << ": " << reason;
  }
  EXPECT_EQ(base::FormatUtc(base::FromUnixSeconds(int64_t{1} << 40)).substr(0, 4), "2262");
}

TEST_F(TokenTest, ExpiredTokenNamesBothTimes) {
  check_.now = base::FromUnixSeconds(kNow + 290 + 31);  // past exp and the 30s skew
  EXPECT_EQ(Reason(Issue(Claims(), *ed_)), "token expired at " +
                                               base::FormatUtc(base::FromUnixSeconds(kNow + 290)) +
                                               " (now " + base::FormatUtc(check_.now) + ")");
  check_.now = base::FromUnixSeconds(kNow + 290 + 30);  // within skew: still fine
  EXPECT_TRUE(VerifyToken(Issue(Claims(), *ed_), *keys_, check_).ok());
}

TEST_F(TokenTest, NotYetValidTokenIsRefused) {
  TokenClaims c = Claims();
  c.nbf = kNow + 120;
  c.iat = kNow;
  EXPECT_NE(Reason(Issue(c, *ed_)).find("token is not valid before"), std::string::npos);
  c.nbf.reset();
  c.iat = kNow + 120;
  EXPECT_NE(Reason(Issue(c, *ed_)).find("issued in the future"), std::string::npos);
}

TEST_F(TokenTest, LifetimeBeyondMaxTtlIsRefused) {
  TokenClaims c = Claims();
  c.exp = kNow + 7200;
  EXPECT_NE(Reason(Issue(c, *ed_)).find("longer than the 3600s allowed"), std::string::npos);
  check_.max_ttl = std::chrono::seconds(0);
  EXPECT_TRUE(VerifyToken(Issue(c, *ed_), *keys_, check_).ok());
}

TEST_F(TokenTest, WrongNodeIsRefused) {
  TokenClaims c = Claims();
  c.node = "gw-2";
  EXPECT_EQ(Reason(Issue(c, *ed_)), "token is for node 'gw-2', and this is node 'gw-1'");
}

TEST_F(TokenTest, MissingOrMistypedClaimsAreRefused) {
  json base = json::parse(ClaimsJson(Claims()));
  json header = {{"alg", "EdDSA"}, {"kid", "edge-ed"}};
  for (const char* claim : {"sub", "act", "node", "exp", "jti"}) {
    json c = base;
    c.erase(claim);
    EXPECT_EQ(Reason(Forge(header, c.dump(), *ed_)),
              std::string("token has no ") + claim + " claim");
  }
  json c = base;
  c["act"] = "CreateContainer";
  EXPECT_NE(Reason(Forge(header, c.dump(), *ed_)).find("act"), std::string::npos);
  c = base;
  c["exp"] = "tomorrow";
  EXPECT_EQ(Reason(Forge(header, c.dump(), *ed_)), "token claim exp is not a number");
  c = base;
  c["sub"] = "";
  EXPECT_NE(Reason(Forge(header, c.dump(), *ed_)).find("sub"), std::string::npos);
  EXPECT_NE(Reason(Forge(header, "[1,2]", *ed_)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(Reason(Forge(header, "{\"sub\":", *ed_)).find("not JSON"), std::string::npos);
}

TEST_F(TokenTest, CritHeaderAndUnknownKidAreRefused) {
  json header = {{"alg", "EdDSA"}, {"kid", "edge-ed"}, {"crit", {"exp"}}};
  EXPECT_NE(Reason(Forge(header, ClaimsJson(Claims()), *ed_)).find("crit"), std::string::npos);
  header = {{"alg", "EdDSA"}, {"kid", "nobody"}};
  EXPECT_EQ(Reason(Forge(header, ClaimsJson(Claims()), *ed_)),
            "token kid 'nobody' names no configured key");
}

TEST_F(TokenTest, TruncatedTokensAreAllRefused) {
  std::string token = Issue(Claims(), *ed_);
  for (size_t length = 0; length < token.size(); ++length) {
    Result<VerifiedToken> v = VerifyToken(token.substr(0, length), *keys_, check_);
    EXPECT_FALSE(v.ok()) << "accepted at length " << length;
  }
  EXPECT_EQ(Reason(token.substr(0, token.rfind('.'))),
            "token is not JWS compact serialisation (header.payload.signature)");
}

TEST_F(TokenTest, NonCanonicalBase64IsRefused) {
  std::string token = Issue(Claims(), *ed_);
  // An Ed25519 signature is 64 bytes: 86 characters, the last carrying 2 unused bits.
  char& last = token.back();
  last = last == 'A' ? 'B' : (last == 'B' ? 'C' : 'B');
  EXPECT_FALSE(VerifyToken(token, *keys_, check_).ok());
  std::string padded = Issue(Claims(), *ed_) + "==";
  EXPECT_EQ(Reason(padded), "token signature is not base64url");
}

TEST_F(TokenTest, OversizedAndGarbageInputIsRefusedBeforeParsing) {
  std::string garbage(1 << 20, 'x');
  for (size_t i = 0; i < garbage.size(); i += 7) garbage[i] = static_cast<char>(i % 256);
  EXPECT_EQ(Reason(garbage), "token is 1048576 bytes, more than the 8192 allowed");
  EXPECT_NE(Reason(std::string(kMaxTokenBytes + 1, 'a')).find("more than the 8192"),
            std::string::npos);
  EXPECT_EQ(Reason(""), "token is empty");
  EXPECT_NE(Reason("a.b.c").find("header"), std::string::npos);
  EXPECT_NE(Reason(base::Base64UrlEncode("not json") + ".e30.").find("not a JSON object"),
            std::string::npos);
  std::string deep(4000, '[');
  EXPECT_FALSE(VerifyToken(base::Base64UrlEncode(deep) + ".e30.", *keys_, check_).ok());
}

TEST_F(TokenTest, ActionAndImageBindings) {
  TokenClaims c = Claims();
  EXPECT_TRUE(CheckTokenAction(c, "CreateContainer").ok());
  base::Status s = CheckTokenAction(c, "PullImage");
  EXPECT_EQ(s.code(), base::Code::UNAUTHENTICATED);
  EXPECT_EQ(s.message(),
            "token does not allow PullImage (act: 'CreateContainer', 'StartContainer')");

  EXPECT_TRUE(CheckTokenImage(c, {"docker.io/library/busybox:1.36"}, "busybox").ok());
  EXPECT_TRUE(CheckTokenImage(c, {"", "busybox:1.36"}, "busybox").ok());  // normalised
  EXPECT_EQ(CheckTokenImage(c, {"docker.io/library/busybox:latest"}, "busybox:latest").message(),
            "token is for image 'docker.io/library/busybox:1.36', not busybox:latest");
  c.img = testing::Digest('d');
  EXPECT_TRUE(
      CheckTokenImage(c, {"docker.io/library/busybox:1.36", testing::Digest('d')}, "x").ok());
  EXPECT_FALSE(CheckTokenImage(c, {testing::Digest('e')}, "x").ok());
  c.img.clear();
  EXPECT_NE(CheckTokenImage(c, {"x"}, "x").message().find("no img claim"), std::string::npos);
}

}  // namespace
}  // namespace crigate::policy
