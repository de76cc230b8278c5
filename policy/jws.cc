#include "policy/jws.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "policy/base/base64url.h"

namespace crigate::policy {
namespace {

using nlohmann::json;

struct Refusal {
  std::string_view what;
  base::Status operator()(std::string_view reason) const {
    return Fail(base::Code::UNAUTHENTICATED, fmt::format("{} {}", what, reason));
  }
};

Result<VerifiedJws> Verify(std::string_view compact, const KeySet& keys, const JwsRules& rules) {
  const Refusal refuse{rules.what};
  if (compact.empty()) return refuse("is empty");
  if (compact.size() > rules.max_bytes) {
    return refuse(
        fmt::format("is {} bytes, more than the {} allowed", compact.size(), rules.max_bytes));
  }
  const size_t dot1 = compact.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("is not JWS compact serialisation (header.payload.signature)");
  }
  const std::string_view header_b64 = compact.substr(0, dot1);
  const std::string_view payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = compact.substr(dot2 + 1);

  std::optional<std::string> header_text = base::Base64UrlDecode(header_b64);
  if (!header_text || header_text->empty()) return refuse("header is not base64url");
  json header = json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return refuse("header is not a JSON object");
  auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string()) return refuse("header has no alg");
  const std::string alg = alg_it->get<std::string>();
  if (alg != AlgName(JwsAlg::kEdDSA) && alg != AlgName(JwsAlg::kES256)) {
    return refuse(fmt::format("alg {} is not accepted (only EdDSA or ES256, as the key decides)",
                              QuoteUntrusted(alg)));
  }
  if (header.contains("crit")) {
    return refuse("header has crit extensions, which crigate does not support");
  }
  if (auto typ = header.find("typ"); typ == header.end()) {
    if (!rules.typ_optional) return refuse("header has no typ");
  } else if (!typ->is_string() || rules.typs.count(typ->get<std::string>()) == 0) {
    return refuse(fmt::format("typ is not {}",
                              rules.typs.empty() ? std::string("accepted") : *rules.typs.begin()));
  }
  std::vector<const JwsKey*> candidates;
  std::string kid;
  if (auto kid_it = header.find("kid"); kid_it != header.end()) {
    if (!kid_it->is_string()) return refuse("kid is not a string");
    kid = kid_it->get<std::string>();
    const JwsKey* key = keys.Find(kid);
    if (!key) return refuse(fmt::format("kid {} names no configured key", QuoteUntrusted(kid)));
    if (alg != AlgName(key->alg())) {
      return refuse(fmt::format("alg {} does not match key {}, which is {}", QuoteUntrusted(alg),
                                kid, AlgName(key->alg())));
    }
    candidates.push_back(key);
  } else if (rules.kid_required) {
    return refuse("header has no kid");
  } else {
    for (const auto& key : keys.keys()) {
      if (alg == AlgName(key->alg())) candidates.push_back(key.get());
    }
    if (candidates.empty()) {
      return refuse(fmt::format("alg {} matches no configured key", QuoteUntrusted(alg)));
    }
  }

  std::optional<std::string> signature = base::Base64UrlDecode(signature_b64);
  if (!signature) return refuse("signature is not base64url");
  const std::string_view signed_part = compact.substr(0, dot2);
  const JwsKey* verified_by = nullptr;
  for (const JwsKey* key : candidates) {
    if (key->Verify(signed_part, *signature)) {
      verified_by = key;
      break;
    }
  }
  if (!verified_by) {
    if (!kid.empty()) return refuse(fmt::format("signature does not verify with key {}", kid));
    std::string names;
    for (const JwsKey* key : candidates) names += (names.empty() ? "" : ", ") + key->kid();
    return refuse(fmt::format("signature does not verify with any {} key ({})", alg, names));
  }

  std::optional<std::string> payload = base::Base64UrlDecode(payload_b64);
  if (!payload) return refuse("payload is not base64url");
  return VerifiedJws{std::move(*payload), verified_by->kid()};
}

}  // namespace

std::string QuoteUntrusted(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 80) out += "...";
  return "'" + out + "'";
}

Result<VerifiedJws> VerifyJws(std::string_view compact, const KeySet& keys, const JwsRules& rules) {
  try {
    return Verify(compact, keys, rules);
  } catch (const std::exception& e) {
    return Fail(base::Code::UNAUTHENTICATED,
                fmt::format("{} could not be read: {}", rules.what, e.what()));
  }
}

Result<std::string> SignJws(std::string_view payload, std::string_view typ, const JwsKey& key) {
  try {
    json header = {{"alg", AlgName(key.alg())}, {"kid", key.kid()}, {"typ", typ}};
    std::string signing_input =
        base::Base64UrlEncode(header.dump()) + "." + base::Base64UrlEncode(payload);
    Result<std::string> signature = key.Sign(signing_input);
    if (!signature.ok()) return signature.status();
    return signing_input + "." + base::Base64UrlEncode(*signature);
  } catch (const std::exception& e) {
    return Fail(base::Code::INTERNAL, fmt::format("cannot sign: {}", e.what()));
  }
}

}  // namespace crigate::policy
