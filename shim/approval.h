// The approval key shared by the crigate daemon (which signs approval
// records, approval_store.h) and the shim wrapper (which checks them), and
// the status type both sides use.
//
// Nothing here throws; every failure is a base::Status with a one-line
// message written for the operator who reads containerd's log or the audit log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/base/status.h"

namespace crigate::shim {

inline constexpr char kDefaultApprovalKeyPath[] = "/etc/crigate/approval.key";
// An approval is written while crigate forwards the call and removed when
// the call returns; the expiry only bounds one that a crash left behind.
inline constexpr std::chrono::seconds kDefaultApprovalTtl{120};
inline constexpr size_t kMinApprovalKeyBytes = 32;

// Failures are the bottom floor's Status (policy/base/status.h), in two
// kinds, as everywhere in crigate: Refused (PERMISSION_DENIED: the approval
// says no, being missing, expired or not matching) and Failed (INTERNAL: no
// answer, as when the key cannot be read or the RNG failed). The shim
// refuses the start on both.
inline base::Status Refused(std::string reason) {
  return base::Status::PermissionDenied(std::move(reason));
}
inline base::Status Failed(std::string reason) { return base::Status::Internal(std::move(reason)); }
inline bool IsRefusal(const base::Status& s) { return s.code() == base::Code::PERMISSION_DENIED; }

// The HMAC key: at least kMinApprovalKeyBytes random bytes. Wiped on destruction.
class ApprovalKey {
 public:
  ApprovalKey() = default;
  explicit ApprovalKey(std::string bytes) : bytes_(std::move(bytes)) {}
  ApprovalKey(const ApprovalKey&) = default;
  ApprovalKey& operator=(const ApprovalKey&) = default;
  ApprovalKey(ApprovalKey&&) noexcept = default;
  ApprovalKey& operator=(ApprovalKey&&) noexcept = default;
  ~ApprovalKey();

  bool empty() const { return bytes_.empty(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Reads the key file at `path`. Error unless it is a regular file owned by
// `required_owner` (root in production; tests pass geteuid()), with no
// group/other permission bits, holding kMinApprovalKeyBytes..4096 bytes.
base::Status LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner = 0);

// Creates `path` (it must not exist) holding 32 fresh random bytes, mode 0600,
// owned by the caller. For install scripts and tests.
base::Status CreateApprovalKey(const std::string& path);

enum class ApprovalKind { kSandbox, kContainer };

}  // namespace crigate::shim
