#include "policy/token.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "policy/base/base64url.h"
#include "policy/image_ref.h"

namespace crigate::policy {
namespace {

using nlohmann::json;
using Code = base::Code;

constexpr size_t kMaxJtiBytes = 256;
// Year 2223: far beyond any sane date, and within system_clock's
// nanosecond range (which ends in 2262); fuzz_token found 2^40 overflowing it.
constexpr int64_t kMaxTime = 8'000'000'000;

base::Status Unauthenticated(std::string reason) {
  return Fail(Code::UNAUTHENTICATED, std::move(reason));
}

// Claim values are quoted in reasons; keep them short and printable.
std::string Quote(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 80) out += "...";
  return "'" + out + "'";
}

std::string When(int64_t seconds) { return base::FormatUtc(base::FromUnixSeconds(seconds)); }

// A NumericDate: a JSON number, floored to whole seconds.
bool ReadTime(const json& claims, const char* name, std::optional<int64_t>* out,
              std::string* error) {
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_number()) {
    *error = fmt::format("token claim {} is not a number", name);
    return false;
  }
  double value = it->get<double>();
  if (!std::isfinite(value) || value < 0 || value > double(kMaxTime)) {
    *error = fmt::format("token claim {} is out of range", name);
    return false;
  }
  *out = static_cast<int64_t>(std::floor(value));
  return true;
}

bool ReadString(const json& claims, const char* name, bool required, std::string* out,
                std::string* error) {
  auto it = claims.find(name);
  if (it == claims.end()) {
    if (required) *error = fmt::format("token has no {} claim", name);
    return !required;
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    *error = fmt::format("token claim {} is not a non-empty string", name);
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

Result<TokenClaims> ParseClaims(const json& claims) {
  if (!claims.is_object()) return Unauthenticated("token claims are not a JSON object");
  TokenClaims out;
  std::string error;
  if (!ReadString(claims, "sub", true, &out.sub, &error) ||
      !ReadString(claims, "node", true, &out.node, &error) ||
      !ReadString(claims, "jti", true, &out.jti, &error) ||
      !ReadString(claims, "img", false, &out.img, &error)) {
    return Unauthenticated(error);
  }
  if (out.jti.size() > kMaxJtiBytes) return Unauthenticated("token jti is longer than 256 bytes");
  auto act = claims.find("act");
  if (act == claims.end()) return Unauthenticated("token has no act claim");
  if (!act->is_array() || act->empty()) {
    return Unauthenticated("token claim act is not a non-empty list of action names");
  }
  for (const auto& item : *act) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      return Unauthenticated("token claim act holds something other than action names");
    }
    out.act.push_back(item.get<std::string>());
  }
  std::optional<int64_t> exp;
  if (!ReadTime(claims, "exp", &exp, &error) || !ReadTime(claims, "nbf", &out.nbf, &error) ||
      !ReadTime(claims, "iat", &out.iat, &error)) {
    return Unauthenticated(error);
  }
  if (!exp) return Unauthenticated("token has no exp claim");
  out.exp = *exp;
  return out;
}

base::Status CheckTimes(const TokenClaims& c, const TokenCheck& check) {
  const int64_t now = base::ToUnixSeconds(check.now);
  const int64_t skew = check.clock_skew.count();
  if (now > c.exp + skew) {
    return Unauthenticated(fmt::format("token expired at {} (now {})", When(c.exp), When(now)));
  }
  if (c.nbf && now + skew < *c.nbf) {
    return Unauthenticated(
        fmt::format("token is not valid before {} (now {})", When(*c.nbf), When(now)));
  }
  if (c.iat && now + skew < *c.iat) {
    return Unauthenticated(
        fmt::format("token was issued in the future, at {} (now {})", When(*c.iat), When(now)));
  }
  if (check.max_ttl.count() > 0) {
    const int64_t start = c.iat ? *c.iat : c.nbf ? *c.nbf : now;
    if (c.exp - start > check.max_ttl.count()) {
      return Unauthenticated(fmt::format("token lives {}s, longer than the {}s allowed (max_ttl)",
                                         c.exp - start, check.max_ttl.count()));
    }
  }
  return base::Status::OK();
}

Result<VerifiedToken> Verify(std::string_view compact, const KeySet& keys,
                             const TokenCheck& check) {
  if (compact.empty()) return Unauthenticated("token is empty");
  if (compact.size() > kMaxTokenBytes) {
    return Unauthenticated(
        fmt::format("token is {} bytes, more than the {} allowed", compact.size(), kMaxTokenBytes));
  }
  const size_t dot1 = compact.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthenticated("token is not JWS compact serialisation (header.payload.signature)");
  }
  const std::string_view header_b64 = compact.substr(0, dot1);
  const std::string_view payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = compact.substr(dot2 + 1);

  std::optional<std::string> header_text = base::Base64UrlDecode(header_b64);
  if (!header_text || header_text->empty()) return Unauthenticated("token header is not base64url");
  json header = json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Unauthenticated("token header is not a JSON object");
  }
  auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string())
    return Unauthenticated("token header has no alg");
  const std::string alg = alg_it->get<std::string>();
  if (alg != AlgName(JwsAlg::kEdDSA) && alg != AlgName(JwsAlg::kES256)) {
    return Unauthenticated(fmt::format(
        "token alg {} is not accepted (only EdDSA or ES256, as the key decides)", Quote(alg)));
  }
  if (header.contains("crit")) {
    return Unauthenticated("token header has crit extensions, which crigate does not support");
  }
  if (auto typ = header.find("typ");
      typ != header.end() && !(typ->is_string() && (*typ == "JWT" || *typ == "jwt"))) {
    return Unauthenticated("token typ is not JWT");
  }
  std::vector<const JwsKey*> candidates;
  std::string kid;
  if (auto kid_it = header.find("kid"); kid_it != header.end()) {
    if (!kid_it->is_string()) return Unauthenticated("token kid is not a string");
    kid = kid_it->get<std::string>();
    const JwsKey* key = keys.Find(kid);
    if (!key)
      return Unauthenticated(fmt::format("token kid {} names no configured key", Quote(kid)));
    if (alg != AlgName(key->alg())) {
      return Unauthenticated(fmt::format("token alg {} does not match key {}, which is {}",
                                         Quote(alg), kid, AlgName(key->alg())));
    }
    candidates.push_back(key);
  } else {
    for (const auto& key : keys.keys()) {
      if (alg == AlgName(key->alg())) candidates.push_back(key.get());
    }
    if (candidates.empty()) {
      return Unauthenticated(fmt::format("token alg {} matches no configured key", Quote(alg)));
    }
  }

  std::optional<std::string> signature = base::Base64UrlDecode(signature_b64);
  if (!signature) return Unauthenticated("token signature is not base64url");
  const std::string_view signed_part = compact.substr(0, dot2);
  const JwsKey* verified_by = nullptr;
  for (const JwsKey* key : candidates) {
    if (key->Verify(signed_part, *signature)) {
      verified_by = key;
      break;
    }
  }
  if (!verified_by) {
    if (!kid.empty()) {
      return Unauthenticated(fmt::format("token signature does not verify with key {}", kid));
    }
    std::string names;
    for (const JwsKey* key : candidates) names += (names.empty() ? "" : ", ") + key->kid();
    return Unauthenticated(
        fmt::format("token signature does not verify with any {} key ({})", alg, names));
  }

  std::optional<std::string> payload = base::Base64UrlDecode(payload_b64);
  if (!payload) return Unauthenticated("token payload is not base64url");
  json claims_json = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (claims_json.is_discarded()) return Unauthenticated("token payload is not JSON");
  Result<TokenClaims> claims = ParseClaims(claims_json);
  if (!claims.ok()) return claims.status();
  base::Status times = CheckTimes(*claims, check);
  if (!times.ok()) return times;
  if (!check.node.empty() && claims->node != check.node) {
    return Unauthenticated(fmt::format("token is for node {}, and this is node {}",
                                       Quote(claims->node), Quote(check.node)));
  }
  VerifiedToken out;
  out.claims = std::move(claims).value();
  out.kid = verified_by->kid();
  out.claims_json = claims_json.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

}  // namespace

Result<VerifiedToken> VerifyToken(std::string_view compact, const KeySet& keys,
                                  const TokenCheck& check) {
  try {
    return Verify(compact, keys, check);
  } catch (const std::exception& e) {
    return Unauthenticated(fmt::format("token could not be read: {}", e.what()));
  } catch (...) {
    return Unauthenticated("token could not be read");
  }
}

base::Status CheckTokenAction(const TokenClaims& claims, std::string_view action) {
  if (std::find(claims.act.begin(), claims.act.end(), action) != claims.act.end()) {
    return base::Status::OK();
  }
  std::string listed;
  for (const auto& a : claims.act) listed += (listed.empty() ? "" : ", ") + Quote(a);
  return Unauthenticated(fmt::format("token does not allow {} (act: {})", action, listed));
}

base::Status CheckTokenImage(const TokenClaims& claims, const std::vector<std::string>& call_images,
                             std::string_view shown) {
  if (claims.img.empty()) {
    return Unauthenticated(
        fmt::format("token has no img claim, and the call names image {}", shown));
  }
  const std::string wanted = NormaliseOrKeep(claims.img);
  for (const auto& image : call_images) {
    if (!image.empty() && NormaliseOrKeep(image) == wanted) return base::Status::OK();
  }
  return Unauthenticated(fmt::format("token is for image {}, not {}", Quote(claims.img), shown));
}

std::string ClaimsJson(const TokenClaims& c) {
  json claims = {{"sub", c.sub}, {"act", c.act}, {"node", c.node}, {"exp", c.exp}, {"jti", c.jti}};
  if (!c.img.empty()) claims["img"] = c.img;
  if (c.nbf) claims["nbf"] = *c.nbf;
  if (c.iat) claims["iat"] = *c.iat;
  return claims.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::string> IssueToken(const TokenClaims& claims, const JwsKey& key) {
  try {
    json header = {{"alg", AlgName(key.alg())}, {"kid", key.kid()}, {"typ", "JWT"}};
    std::string signing_input =
        base::Base64UrlEncode(header.dump()) + "." + base::Base64UrlEncode(ClaimsJson(claims));
    Result<std::string> signature = key.Sign(signing_input);
    if (!signature.ok()) return signature.status();
    std::string token = signing_input + "." + base::Base64UrlEncode(*signature);
    if (token.size() > kMaxTokenBytes) {
      return Fail(Code::INVALID_ARGUMENT,
                  fmt::format("token would be {} bytes, more than the {} a verifier accepts",
                              token.size(), kMaxTokenBytes));
    }
    return token;
  } catch (const std::exception& e) {
    return Fail(Code::INTERNAL, fmt::format("cannot issue token: {}", e.what()));
  }
}

}  // namespace crigate::policy
