#include "policy/token.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "policy/base/base64url.h"
#include "policy/image_ref.h"
#include "policy/jws.h"

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

std::string Quote(std::string_view text) { return QuoteUntrusted(text); }

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
  JwsRules rules;
  rules.what = "token";
  rules.max_bytes = kMaxTokenBytes;
  rules.typs = {"JWT", "jwt"};
  Result<VerifiedJws> jws = VerifyJws(compact, keys, rules);
  if (!jws.ok()) return jws.status();
  json claims_json = json::parse(jws->payload, nullptr, /*allow_exceptions=*/false);
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
  out.kid = jws->kid;
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
  Result<std::string> token = SignJws(ClaimsJson(claims), "JWT", key);
  if (token.ok() && token->size() > kMaxTokenBytes) {
    return Fail(Code::INVALID_ARGUMENT,
                fmt::format("token would be {} bytes, more than the {} a verifier accepts",
                            token->size(), kMaxTokenBytes));
  }
  return token;
}

}  // namespace crigate::policy
