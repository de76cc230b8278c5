#include "shim/hmac_sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace crigate::shim {
namespace {

std::string Mac(const std::string& key, const std::string& data) {
  unsigned char out[kHmacSha256Bytes];
  EXPECT_TRUE(HmacSha256(key, data, out));
  return HexString(out, sizeof(out));
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  // Test cases 1, 2, 6 (key longer than a block) and 7.
  EXPECT_EQ(Mac(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Mac("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Mac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Mac(std::string(131, '\xaa'),
                "This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256Test, AgreesWithOpenSslHmac) {
  for (size_t key_len : {0, 1, 32, 63, 64, 65, 200}) {
    for (size_t data_len : {0, 1, 55, 56, 64, 1000}) {
      const std::string key(key_len, static_cast<char>('a' + key_len % 26));
      const std::string data(data_len, static_cast<char>('A' + data_len % 26));
      unsigned char want[EVP_MAX_MD_SIZE];
      unsigned int want_len = 0;
      ASSERT_NE(
          HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), want, &want_len),
          nullptr);
      EXPECT_EQ(Mac(key, data), HexString(want, want_len)) << key_len << " " << data_len;
    }
  }
}

}  // namespace
}  // namespace crigate::shim
