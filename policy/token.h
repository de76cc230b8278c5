// Call tokens: JWS compact serialisation (RFC 7515) carrying JWT-style
// claims that bind one caller to actions, an image and a node for a short
// time.
//
//   header   {"alg": "EdDSA" | "ES256", "kid": "...", "typ": "JWT"}
//   claims   {"sub": "...", "act": ["CreateContainer", ...], "img": "<ref or digest>",
//             "node": "...", "exp": N, "nbf": N, "iat": N, "jti": "..."}
//
// The configured key fixes the algorithm; a header naming any other (none,
// HS256, or the other curve) is refused before any signature work. Input is
// bounded (kMaxTokenBytes) before it is decoded, base64url is strict, and
// JSON is parsed without exceptions. sub, act, node, exp and jti are
// required; img is required when the call names an image (the stage checks
// that); nbf and iat are optional.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/base/time.h"
#include "policy/jws_key.h"
#include "policy/result.h"

namespace crigate::policy {

inline constexpr size_t kMaxTokenBytes = size_t{8} * 1024;
inline constexpr char kTokenAnnotation[] = "crigate.io/token";

struct TokenClaims {
  std::string sub;
  std::vector<std::string> act;
  std::string img;  // empty: no img claim
  std::string node;
  int64_t exp = 0;  // seconds since the epoch
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
  std::string jti;
};

struct VerifiedToken {
  TokenClaims claims;
  std::string kid;          // the key that verified it
  std::string claims_json;  // the claims, compact JSON
};

struct TokenCheck {
  base::WallTime now;
  std::chrono::seconds clock_skew{30};  // tolerated on exp, nbf and iat
  std::chrono::seconds max_ttl{3600};   // longest accepted lifetime; 0: no limit
  std::string node;                     // the node id the token must name; empty: not checked
};

// Signature, structure and time. UNAUTHENTICATED with a reason for the
// audit log on any failure ("token expired at 2026-11-26T10:00:00Z (now
// ...)", "token signature does not verify with key edge-1").
Result<VerifiedToken> VerifyToken(std::string_view compact, const KeySet& keys,
                                  const TokenCheck& check);

// The token lists action in act.
base::Status CheckTokenAction(const TokenClaims& claims, std::string_view action);
// The token's img equals one of the names the call's image has (normalised
// reference, digest, id, repo tags and digests). shown names the image in
// the reason.
base::Status CheckTokenImage(const TokenClaims& claims, const std::vector<std::string>& call_images,
                             std::string_view shown);

// Signs claims with key (which must hold its private half); the header
// names the key's algorithm and kid.
Result<std::string> IssueToken(const TokenClaims& claims, const JwsKey& key);

// The claims as compact JSON, in the shape IssueToken signs.
std::string ClaimsJson(const TokenClaims& claims);

}  // namespace crigate::policy
