// Each approval starts one task. An approval can be read back by anyone who
// can list containers (ContainerStatus, ListContainers and `ctr containers
// info` show annotations) until it expires; recording its first use here makes
// a copy worthless once the approved task has started.
//
// One empty file per used approval, named "<expiry>-<id>", created with
// O_EXCL in a root-only directory on tmpfs (/run), so the record needs no
// lock and no daemon. Records of approvals expired for more than a grace
// period are removed on the way.
#pragma once

#include <cstdint>
#include <string>

#include "shim/approval.h"

namespace crigate::shim {

// A clock stepped back by less than this cannot revive a pruned approval.
inline constexpr int64_t kUsedApprovalGraceSeconds = 600;

// Ok when `approval` had not been used and is now recorded; Refused when it
// had been; Error when the record cannot be kept (the start must then be
// refused too: fail closed). Creates `dir` (mode 0700) if missing.
ApprovalStatus RecordFirstUse(const std::string& dir, const VerifiedApproval& approval,
                              int64_t now_unix);

}  // namespace crigate::shim
