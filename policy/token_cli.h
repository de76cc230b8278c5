// `crigate token ...`: mint, check and make keys for call tokens, for
// operators.
//
//   crigate token issue --key KEY.pem --sub S --act A[,B] [--img REF] [--node N]
//                       [--ttl 300s] [--jti auto|ID] [--kid K]
//       prints the token. --node defaults to this host's name, --kid to the
//       key file's name without extension (the verifier's kid for PREFIX.pub).
//   crigate token verify --pub PUB.pem [--kid K] [--node N] [--act A] [--img REF]
//                        [--max-ttl D] TOKEN|-
//       prints the claims as JSON and exits 0, or prints why not and exits 1.
//       Replay is not checked (that needs the daemon's memory).
//   crigate token keygen --type ed25519|p256 --out PREFIX
//       writes PREFIX.key (private, mode 0600) and PREFIX.pub; never overwrites.
//
// Exit codes: 0 done, 1 refused or failed, 2 usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "policy/base/time.h"

namespace crigate::policy {

// argv[0] is the command's own name ("token" or "crigate-token"); argv[1]
// the verb.
int RunTokenCli(int argc, char** argv);

// The same with explicit streams and clock; args[0] is the verb.
int RunTokenCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err, const base::Clock& clock);

}  // namespace crigate::policy
