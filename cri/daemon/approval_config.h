// The [approval] section of crigate's TOML file, and the key it names: what
// the daemon needs to know of the no-bypass approvals before it builds them
// (approval_minter.h).
//
// [approval] in crigate's TOML file:
//   enabled = false                          true: write approvals (needs the shim)
//   key_file = "/etc/crigate/approval.key"   the key the shim verifies with
//   dir = "/run/crigate/approvals"           where the shim looks for them
//   ttl_seconds = 120                        bounds one a crash left behind
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "policy/base/status.h"
#include "shim/approval.h"
#include "shim/approval_store.h"

namespace crigate::cri {

struct ApprovalConfig {
  bool enabled = false;  // off: existing setups without a key keep working
  std::string key_file = shim::kDefaultApprovalKeyPath;
  std::string dir = shim::kDefaultApprovalDir;
  std::chrono::seconds ttl = shim::kDefaultApprovalTtl;
};

// Reads root's [approval]; one message per bad key in errors, each naming
// the key ("approval.ttl_seconds: ..."); unknown keys are errors.
ApprovalConfig ParseApprovalConfig(const toml::table& root, std::vector<std::string>& errors);

// The key in key_file, which must be owned by the user the daemon runs as
// (root) with no group/other access.
base::Result<std::shared_ptr<const shim::ApprovalKey>> LoadApprovalKey(const std::string& key_file);

}  // namespace crigate::cri
