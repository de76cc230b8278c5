// HMAC-SHA256 (RFC 2104) computed over OpenSSL's direct SHA-256 functions.
//
// Why not HMAC() or EVP_MAC: in OpenSSL 3.0 every EVP path (HMAC(), EVP_MAC,
// even the one-shot SHA256()) first initialises the provider machinery, which
// costs ~0.6 ms of CPU per process, i.e. on every task start the shim checks.
// SHA256_Init/Update/Final run the digest directly; they are deprecated in
// 3.0 but kept through 3.x. Checked against RFC 4231's vectors and against
// OpenSSL's HMAC() in hmac_sha256_test.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace crigate::shim {

inline constexpr size_t kHmacSha256Bytes = 32;

// Lower-case hex of `size` bytes (digests, nonces, file names).
std::string HexString(const unsigned char* data, size_t size);

// False only if OpenSSL's digest fails.
bool Sha256(std::string_view data, unsigned char out[kHmacSha256Bytes]);
bool HmacSha256(std::string_view key, std::string_view data, unsigned char out[kHmacSha256Bytes]);

}  // namespace crigate::shim
