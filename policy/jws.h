// JWS compact serialisation (RFC 7515), for everything crigate verifies
// that a key signed: call tokens (policy/token.h) and the cloud's policy
// bundles (policy/channel/bundle.h). The configured key decides the
// algorithm: a header naming any other (none, HS256, the other curve) is
// refused before any signature work, and crit extensions are refused.
// Input is bounded before it is decoded, base64url is strict, and JSON is
// parsed without exceptions.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "policy/jws_key.h"
#include "policy/result.h"

namespace crigate::policy {

struct JwsRules {
  std::string_view what = "token";  // starts every reason: "token header has no alg"
  size_t max_bytes = size_t{8} * 1024;
  // Accepted "typ" values; an absent typ is accepted when typ_optional.
  std::set<std::string, std::less<>> typs;
  bool typ_optional = true;
  bool kid_required = false;  // without a kid, every key of the header's alg is tried
};

struct VerifiedJws {
  std::string payload;  // decoded, not parsed
  std::string kid;      // of the key that verified it
};

// UNAUTHENTICATED with a reason for the audit log when the structure, the
// header or the signature is wrong. The payload is only returned, never
// trusted before this returns OK.
Result<VerifiedJws> VerifyJws(std::string_view compact, const KeySet& keys, const JwsRules& rules);

// header.payload.signature with {"alg", "kid", "typ"} in the header, signed
// by key (which must hold its private half).
Result<std::string> SignJws(std::string_view payload, std::string_view typ, const JwsKey& key);

// Text from a message not yet trusted, for a reason: quoted, at most 80
// printable bytes ("'EdD?SA'").
std::string QuoteUntrusted(std::string_view text);

}  // namespace crigate::policy
