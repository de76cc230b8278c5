// The privilege stage: may this caller use this method at all? The caller
// is the peer of the unix socket (SO_PEERCRED at accept), never anything the
// request says about itself.
//
// Every mutating or gated method is open to configured super users (by uid) and super groups
// (by the connection's primary gid). Supplementary groups are not consulted:
// the gid is what the kernel reports for the connecting process, and
// resolving a uid's groups per call would put NSS on the hot path. Names in
// the config are resolved to ids once, at load. An unknown caller
// (credentials unreadable) is denied. Read-only methods are open to every
// caller unless read_only_open is false, when they too need a super user.
//
// Deny code PERMISSION_DENIED.
#pragma once

#include <sys/types.h>

#include <set>

#include "policy/gate.h"

namespace crigate::policy {

struct PrivilegeOptions {
  std::set<uid_t> super_uids{0};
  std::set<gid_t> super_gids;
  bool read_only_open = true;
};

class PrivilegeStage final : public Stage {
 public:
  explicit PrivilegeStage(PrivilegeOptions options) : options_(std::move(options)) {}

  const char* name() const override { return "privilege"; }
  StageResult Check(const GateRequest& request, CallState& state) override;
  bool checks_every_mutating_call() const override { return true; }

 private:
  const PrivilegeOptions options_;
};

}  // namespace crigate::policy
