// Call tokens: VerifyToken on arbitrary text, and on arbitrary JSON header
// and claims signed with the key it trusts, so the fuzzer also reaches the
// claim checks behind the signature. Input: one selector byte, then the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/base/base64url.h"
#include "policy/jws_key.h"
#include "policy/token.h"

namespace {

using crigate::policy::JwsAlg;
using crigate::policy::JwsKey;
using crigate::policy::KeySet;

struct Fixture {
  std::shared_ptr<const JwsKey> key;
  std::shared_ptr<const KeySet> keys;
  Fixture() {
    key = *JwsKey::Generate(JwsAlg::kEdDSA, "edge-1");
    keys = KeySet::Of({key});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  crigate::policy::TokenCheck check;
  check.now = crigate::base::WallTime(std::chrono::seconds(1'800'000'000));
  check.node = "node-a";
  std::string token;
  if (data[0] & 1) {
    // "<header json>\n<claims json>", signed: the claim checks behind the
    // signature.
    const size_t nl = text.find('\n');
    const std::string_view header = text.substr(0, nl);
    const std::string_view claims = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    const std::string signing_input =
        crigate::base::Base64UrlEncode(header) + "." + crigate::base::Base64UrlEncode(claims);
    auto signature = fixture.key->Sign(signing_input);
    if (!signature.ok()) return 0;
    token = signing_input + "." + crigate::base::Base64UrlEncode(*signature);
  } else {
    token.assign(text);
  }
  auto verified = crigate::policy::VerifyToken(token, *fixture.keys, check);
  if (verified.ok()) {
    (void)crigate::policy::CheckTokenAction(verified->claims, "StartContainer");
    (void)crigate::policy::CheckTokenImage(verified->claims, {"docker.io/library/busybox:1.35"},
                                           "busybox");
  }
  return 0;
}
