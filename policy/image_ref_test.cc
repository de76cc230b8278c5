#include "policy/image_ref.h"

#include <gtest/gtest.h>

#include <string>

namespace crigate::policy {
namespace {

const std::string kHex(64, 'a');

std::string Normal(const std::string& text) {
  Result<ImageRef> ref = ParseImageRef(text);
  EXPECT_TRUE(ref.ok()) << text << ": " << ref.error();
  return ref.ok() ? ref->String() : "";
}

std::string ErrorOf(const std::string& text) {
  Result<ImageRef> ref = ParseImageRef(text);
  EXPECT_FALSE(ref.ok()) << text << " parsed as " << (ref.ok() ? ref->String() : "");
  if (!ref.ok()) {
    EXPECT_EQ(ref.code(), base::Code::INVALID_ARGUMENT);
  }
  return ref.ok() ? "" : ref.error();
}

TEST(ImageRefTest, ShortNamesGetDockerHubLibraryAndLatest) {
  EXPECT_EQ(Normal("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Normal("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(Normal("library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Normal("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(Normal("index.docker.io/foo/bar"), "docker.io/foo/bar:latest");
  EXPECT_EQ(Normal("someone/app:v2"), "docker.io/someone/app:v2");
}

TEST(ImageRefTest, SplitsRegistryRepositoryTagAndDigest) {
  Result<ImageRef> ref = ParseImageRef("registry.example.com:443/team/app:v1.2");
  ASSERT_TRUE(ref.ok()) << ref.error();
  EXPECT_EQ(ref->domain, "registry.example.com:443");
  EXPECT_EQ(ref->path, "team/app");
  EXPECT_EQ(ref->tag, "v1.2");
  EXPECT_EQ(ref->digest, "");
  EXPECT_FALSE(ref->is_id);
  EXPECT_EQ(ref->Name(), "registry.example.com:443/team/app");
}

TEST(ImageRefTest, PortsAndLocalhostKeepTheirRegistry) {
  EXPECT_EQ(Normal("localhost:5000/x"), "localhost:5000/x:latest");
  EXPECT_EQ(Normal("localhost/x:1"), "localhost/x:1");
  EXPECT_EQ(Normal("127.0.0.1:5000/a/b:c"), "127.0.0.1:5000/a/b:c");
  EXPECT_EQ(Normal("[::1]:5000/x"), "[::1]:5000/x:latest");
  // With no slash, "localhost:5000" is a repository and a tag, as docker reads it.
  Result<ImageRef> ref = ParseImageRef("localhost:5000");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->String(), "docker.io/library/localhost:5000");
  EXPECT_EQ(ref->tag, "5000");
}

TEST(ImageRefTest, DigestsPinAndGetNoDefaultTag) {
  EXPECT_EQ(Normal("busybox@sha256:" + kHex), "docker.io/library/busybox@sha256:" + kHex);
  EXPECT_EQ(Normal("busybox:1.36@sha256:" + kHex), "docker.io/library/busybox:1.36@sha256:" + kHex);
  Result<ImageRef> ref = ParseImageRef("localhost:5000/x@sha256:" + kHex);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->domain, "localhost:5000");
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->digest, "sha256:" + kHex);
}

TEST(ImageRefTest, ImageIdsAreIdsNotNames) {
  Result<ImageRef> ref = ParseImageRef("sha256:" + kHex);
  ASSERT_TRUE(ref.ok());
  EXPECT_TRUE(ref->is_id);
  EXPECT_EQ(ref->String(), "sha256:" + kHex);
  EXPECT_EQ(ref->Name(), "");
  ref = ParseImageRef(kHex);
  ASSERT_TRUE(ref.ok());
  EXPECT_TRUE(ref->is_id);
  EXPECT_EQ(ref->String(), "sha256:" + kHex);
}

TEST(ImageRefTest, UppercaseRepositoryIsInvalid) {
  EXPECT_NE(ErrorOf("Busybox").find("must be lowercase"), std::string::npos);
  EXPECT_NE(ErrorOf("docker.io/Library/busybox").find("must be lowercase"), std::string::npos);
  EXPECT_NE(ErrorOf("localhost:5000/App").find("must be lowercase"), std::string::npos);
  // An uppercase first component is a registry host (hosts are case-insensitive), as in docker.
  Result<ImageRef> ref = ParseImageRef("Registry.Local/app");
  ASSERT_TRUE(ref.ok()) << ref.error();
  EXPECT_EQ(ref->domain, "Registry.Local");
}

TEST(ImageRefTest, MalformedReferencesAreRefusedWithTheReason) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  ErrorOf(" ");
  ErrorOf("busybox latest");
  ErrorOf("busybox:");
  ErrorOf(":tag");
  ErrorOf("busybox:tag:extra");
  ErrorOf("busybox:.hidden");
  ErrorOf("a//b");
  ErrorOf("a/b/");
  ErrorOf("/a");
  ErrorOf("-a");
  ErrorOf("a..b");
  ErrorOf("a___b");
  ErrorOf("a_.b");
  ErrorOf("bad host!/x");
  ErrorOf("host:port/x");  // port must be digits
  ErrorOf("busybox\n");
  ErrorOf("busyb\xc3\xb6x");
  EXPECT_NE(ErrorOf("busybox@sha256:abc").find("digest"), std::string::npos);
  ErrorOf("busybox@sha256:" + std::string(64, 'A'));  // digests are lowercase
  ErrorOf("busybox@md5:" + std::string(32, 'a'));
  ErrorOf("busybox@");
  EXPECT_NE(ErrorOf("sha256:abc").find("image id"), std::string::npos);
  ErrorOf(std::string(63, 'a') + "G");
}

TEST(ImageRefTest, SeparatorsFollowTheDistributionGrammar) {
  EXPECT_EQ(Normal("a__b"), "docker.io/library/a__b:latest");
  EXPECT_EQ(Normal("a-----b"), "docker.io/library/a-----b:latest");
  EXPECT_EQ(Normal("a.b_c"), "docker.io/library/a.b_c:latest");
  EXPECT_EQ(Normal("x:" + std::string(128, 't')), "docker.io/library/x:" + std::string(128, 't'));
  ErrorOf("x:" + std::string(129, 't'));
}

TEST(ImageRefTest, LongAndGarbageInputFailsCleanly) {
  ErrorOf("a/" + std::string(300, 'b'));
  std::string garbage(1 << 20, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131 + 7) % 256);
  std::string error = ErrorOf(garbage);
  EXPECT_LT(error.size(), 400u);  // the message quotes a bounded, printable prefix
}

TEST(ImageRefTest, IsDigestWantsExactLengthsAndLowercase) {
  EXPECT_TRUE(IsDigest("sha256:" + kHex));
  EXPECT_TRUE(IsDigest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(IsDigest("sha256:" + kHex + "a"));
  EXPECT_FALSE(IsDigest("sha256:" + std::string(64, 'F')));
  EXPECT_FALSE(IsDigest("md5:" + std::string(32, 'a')));
  EXPECT_FALSE(IsDigest(kHex));
}

TEST(ImageRefTest, NormaliseOrKeepKeepsWhatDoesNotParse) {
  EXPECT_EQ(NormaliseOrKeep("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(NormaliseOrKeep("Not Valid"), "Not Valid");
}

}  // namespace
}  // namespace crigate::policy
