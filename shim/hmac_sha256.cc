#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init/Update/Final: see the header

#include "shim/hmac_sha256.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace crigate::shim {
namespace {

bool Sha256(std::string_view a, std::string_view b, unsigned char out[SHA256_DIGEST_LENGTH]) {
  SHA256_CTX ctx;
  const bool ok = SHA256_Init(&ctx) == 1 && SHA256_Update(&ctx, a.data(), a.size()) == 1 &&
                  SHA256_Update(&ctx, b.data(), b.size()) == 1 && SHA256_Final(out, &ctx) == 1;
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  return ok;
}

}  // namespace

std::string HexString(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

bool Sha256(std::string_view data, unsigned char out[kHmacSha256Bytes]) {
  return Sha256(data, {}, out);
}

bool HmacSha256(std::string_view key, std::string_view data, unsigned char out[kHmacSha256Bytes]) {
  constexpr size_t kBlock = SHA256_CBLOCK;  // 64
  unsigned char k0[kBlock] = {};
  if (key.size() > kBlock) {
    if (!Sha256(key, {}, k0)) return false;
  } else {
    std::memcpy(k0, key.data(), key.size());
  }
  unsigned char pad[kBlock];
  unsigned char inner[SHA256_DIGEST_LENGTH];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k0[i] ^ 0x36;
  bool ok = Sha256({reinterpret_cast<const char*>(pad), kBlock}, data, inner);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k0[i] ^ 0x5c;
  ok = ok && Sha256({reinterpret_cast<const char*>(pad), kBlock},
                    {reinterpret_cast<const char*>(inner), sizeof(inner)}, out);
  OPENSSL_cleanse(k0, sizeof(k0));
  OPENSSL_cleanse(pad, sizeof(pad));
  OPENSSL_cleanse(inner, sizeof(inner));
  return ok;
}

}  // namespace crigate::shim
