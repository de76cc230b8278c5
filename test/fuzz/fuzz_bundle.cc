// Cloud policy bundles: VerifyBundle on arbitrary text, and BundleApplier on
// arbitrary JSON payloads signed with the key it trusts, so the fuzzer also
// reaches the payload, trust store and key checks behind the signature and
// the version rules. Input: one selector byte, then the text.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/channel/bundle.h"
#include "policy/jws.h"
#include "policy/jws_key.h"

namespace {

using crigate::channel::BundleApplier;
using crigate::policy::JwsAlg;
using crigate::policy::JwsKey;
using crigate::policy::KeySet;

struct Fixture {
  std::shared_ptr<const JwsKey> key;
  std::shared_ptr<const KeySet> keys;
  std::unique_ptr<BundleApplier> applier;
  Fixture() {
    key = *JwsKey::Generate(JwsAlg::kEdDSA, "cloud-1");
    keys = KeySet::Of({key});
    char dir[] = "/tmp/fuzz-bundle-XXXXXX";
    const std::string root = mkdtemp(dir);
    crigate::channel::BundleTargets targets;
    targets.node_id = "gw-a";
    targets.trust_store_path = root + "/trust.toml";
    targets.token_keys_dir = root + "/keys";
    targets.state_dir = root + "/state";
    // The reload accepts: what the applier writes is what VerifyBundle let through.
    applier = BundleApplier::Open(targets, keys, [](const std::string&) {
                return crigate::base::Status::OK();
              }).value();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    // A payload signed with the trusted key: everything behind the signature.
    auto bundle = crigate::policy::SignJws(text, crigate::channel::kBundleTyp, *fixture.key);
    if (!bundle.ok()) return 0;
    (void)fixture.applier->Offer(*bundle);
  } else {
    (void)crigate::channel::VerifyBundle(text, *fixture.keys);
  }
  return 0;
}
