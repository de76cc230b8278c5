#include "policy/privilege.h"

#include <fmt/format.h>

#include "policy/actions.h"

namespace crigate::policy {

StageResult PrivilegeStage::Check(const GateRequest& request, CallState&) {
  const Caller& caller = request.caller;
  if (IsReadOnlyAction(request.action) && options_.read_only_open) {
    return StageResult::Allow(
        fmt::format("{} is read-only and open to every caller", request.action));
  }
  if (!caller.known) {
    return StageResult::Deny(base::Code::PERMISSION_DENIED,
                             fmt::format("caller of {} is unknown (no peer credentials); only "
                                         "configured super users may call it",
                                         request.action));
  }
  if (options_.super_uids.count(caller.uid)) {
    return StageResult::Allow(fmt::format("uid {} is a super user", caller.uid));
  }
  if (options_.super_gids.count(caller.gid)) {
    return StageResult::Allow(fmt::format("gid {} is a super group", caller.gid));
  }
  return StageResult::Deny(base::Code::PERMISSION_DENIED,
                           fmt::format("uid {} (gid {}, pid {}) may not call {}: not a configured "
                                       "super user or group",
                                       caller.uid, caller.gid, caller.pid, request.action));
}

}  // namespace crigate::policy
