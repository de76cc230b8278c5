#include "policy/base/base64url.h"

#include <gtest/gtest.h>

namespace crigate::base {
namespace {

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    auto decoded = Base64UrlDecode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 37 + 250);
  }
}

TEST(Base64UrlTest, UsesTheUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(*Base64UrlDecode("-_-_"), "\xfb\xff\xbf");
}

TEST(Base64UrlTest, RefusesPaddingStandardAlphabetAndJunk) {
  EXPECT_FALSE(Base64UrlDecode("YQ==").has_value());
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());
  EXPECT_FALSE(Base64UrlDecode("YW Jj").has_value());
  EXPECT_FALSE(Base64UrlDecode("YWJj\n").has_value());
  EXPECT_FALSE(Base64UrlDecode("Y").has_value());  // 1 mod 4 cannot be a length
  EXPECT_FALSE(Base64UrlDecode(std::string("YW\0j", 4)).has_value());
}

TEST(Base64UrlTest, RefusesNonCanonicalTrailingBits) {
  EXPECT_EQ(*Base64UrlDecode("YQ"), "a");
  EXPECT_FALSE(Base64UrlDecode("YR").has_value());  // same byte, stray low bits
  EXPECT_EQ(*Base64UrlDecode("YWI"), "ab");
  EXPECT_FALSE(Base64UrlDecode("YWJ").has_value());
}

}  // namespace
}  // namespace crigate::base
