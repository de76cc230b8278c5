// `crigate bundle ...`: the cloud side's tool for policy bundles
// (policy/channel/bundle.h), and the operator's for checking one.
//
//   crigate bundle sign --key CLOUD.key [--kid K] --node N --version V
//                       [--trust-store TRUST.toml] [--token-keys DIR|PUB.pem]
//       prints the signed bundle (JWS compact) for node N. --kid defaults to
//       the key file's name without extension (the gateway's bundle_keys
//       kid for PREFIX.pub). --token-keys: every *.pub/*.pem in DIR, or one
//       file; each key's kid is its file name without extension.
//   crigate bundle verify --keys PATH[,PATH] [--node N] FILE|-
//       checks signature, structure and content as a gateway would (not the
//       version, which only the gateway knows) and prints the payload
//       summary; exits 1 with the reason when the gateway would refuse it.
//
// Keys: `crigate token keygen --type ed25519|p256 --out PREFIX`.
// Publishing one (README, "Cloud channel"):
//   mosquitto_pub ... -t crigate/<node>/policy -q 1 -r -f bundle.jws
//
// Exit codes: 0 done, 1 refused or failed, 2 usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace crigate::channel {

// argv[0] is the command's own name ("bundle" or "crigate-bundle").
int RunBundleCli(int argc, char** argv);

// args[0] is the verb.
int RunBundleCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err);

}  // namespace crigate::channel
