#include "policy/jws_key.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using testing::NewKey;
using testing::TempDir;

// The public PEM of a key type crigate does not take.
std::string ForeignPublicPem(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

TEST(JwsKeyTest, KeyTypeFixesTheAlgorithm) {
  auto ed = NewKey(JwsAlg::kEdDSA, "a");
  auto ec = NewKey(JwsAlg::kES256, "b");
  auto ed_pub = JwsKey::FromPem(*ed->PublicPem(), "a", false);
  auto ec_pub = JwsKey::FromPem(*ec->PublicPem(), "b", false);
  ASSERT_TRUE(ed_pub.ok() && ec_pub.ok());
  EXPECT_EQ((*ed_pub)->alg(), JwsAlg::kEdDSA);
  EXPECT_EQ((*ec_pub)->alg(), JwsAlg::kES256);
  EXPECT_FALSE((*ed_pub)->has_private());
  EXPECT_FALSE((*ed_pub)->Sign("x").ok());
  auto signature = ed->Sign("data");
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE((*ed_pub)->Verify("data", *signature));
  EXPECT_FALSE((*ed_pub)->Verify("datA", *signature));
  EXPECT_FALSE((*ec_pub)->Verify("data", *signature));
}

TEST(JwsKeyTest, OtherKeyTypesAndCurvesAreRefused) {
  std::string rsa = ForeignPublicPem(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  auto key = JwsKey::FromPem(rsa, "r", false);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().find("is not Ed25519 or ECDSA P-256"), std::string::npos) << key.error();
  std::string p384 = ForeignPublicPem(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  key = JwsKey::FromPem(p384, "p", false);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().find("is not P-256"), std::string::npos) << key.error();
}

TEST(JwsKeyTest, VerificationKeysMustBePublicAndSigningKeysPrivate) {
  auto ed = NewKey(JwsAlg::kEdDSA, "a");
  auto as_public = JwsKey::FromPem(*ed->PrivatePem(), "a", false);
  ASSERT_FALSE(as_public.ok());
  EXPECT_NE(as_public.error().find("holds a private key"), std::string::npos);
  auto as_private = JwsKey::FromPem(*ed->PublicPem(), "a", true);
  ASSERT_FALSE(as_private.ok());
  EXPECT_NE(as_private.error().find("holds no private key"), std::string::npos);
  EXPECT_FALSE(JwsKey::FromPem("not a pem at all", "x", false).ok());
}

TEST(KeySetTest, LoadsFilesAndDirectoriesWithKidFromTheFileName) {
  TempDir dir;
  mkdir((dir.path() + "/keys.d").c_str(), 0700);
  dir.Write("keys.d/one.pub", *NewKey(JwsAlg::kEdDSA, "")->PublicPem());
  dir.Write("keys.d/two.pem", *NewKey(JwsAlg::kES256, "")->PublicPem());
  dir.Write("keys.d/README", "ignored");
  std::string single = dir.Write("three.pub", *NewKey(JwsAlg::kEdDSA, "")->PublicPem());
  std::vector<std::string> errors;
  auto keys = KeySet::Load({dir.path() + "/keys.d", single}, errors);
  ASSERT_TRUE(keys) << (errors.empty() ? "" : errors[0]);
  ASSERT_EQ(keys->keys().size(), 3u);
  EXPECT_EQ(keys->keys()[0]->kid(), "one");
  EXPECT_EQ(keys->keys()[1]->kid(), "two");
  EXPECT_EQ(keys->Find("two")->alg(), JwsAlg::kES256);
  EXPECT_EQ(keys->Find("three")->alg(), JwsAlg::kEdDSA);
  EXPECT_EQ(keys->Find("nobody"), nullptr);
}

TEST(KeySetTest, ErrorsNameTheEntryAndTheProblem) {
  TempDir dir;
  std::string good = dir.Write("a.pub", *NewKey(JwsAlg::kEdDSA, "")->PublicPem());
  std::string secret = dir.Write("b.pem", *NewKey(JwsAlg::kEdDSA, "")->PrivatePem());
  mkdir((dir.path() + "/other").c_str(), 0700);
  std::string dup = dir.Write("other/a.pub", *NewKey(JwsAlg::kEdDSA, "")->PublicPem());
  std::vector<std::string> errors;
  auto keys = KeySet::Load({good, "/nonexistent/x.pem", secret, dup}, errors);
  EXPECT_EQ(keys, nullptr);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "keys[1]: cannot read /nonexistent/x.pem: No such file or directory");
  EXPECT_NE(errors[1].find("keys[2]: " + secret + ": holds a private key"), std::string::npos);
  EXPECT_NE(errors[2].find("keys[3]: " + dup + ": kid 'a' is already taken by " + good),
            std::string::npos)
      << errors[2];
  errors.clear();
  EXPECT_EQ(KeySet::Load({}, errors), nullptr);
  EXPECT_EQ(errors, std::vector<std::string>{"keys: no verification key configured"});
}

TEST(KeySetTest, KidFromPathStripsKnownExtensions) {
  EXPECT_EQ(KidFromPath("/etc/crigate/keys/edge-2026.pub"), "edge-2026");
  EXPECT_EQ(KidFromPath("ops.key"), "ops");
  EXPECT_EQ(KidFromPath("a.b.pem"), "a.b");
  EXPECT_EQ(KidFromPath("plain"), "plain");
}

}  // namespace
}  // namespace crigate::policy
