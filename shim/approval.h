// The approval key shared by the crigate daemon (which signs approval
// records, approval_store.h) and the shim wrapper (which checks them), and
// the status type both sides use.
//
// Nothing here throws; every failure is an ApprovalStatus with a one-line
// reason written for the operator who reads containerd's log or the audit log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crigate::shim {

inline constexpr char kDefaultApprovalKeyPath[] = "/etc/crigate/approval.key";
// An approval is written while crigate forwards the call and removed when
// the call returns; the expiry only bounds one that a crash left behind.
inline constexpr std::chrono::seconds kDefaultApprovalTtl{120};
inline constexpr size_t kMinApprovalKeyBytes = 32;

// Three outcomes, as everywhere in crigate: OK; Refused (the approval says
// no: missing, expired, not matching); Error (no answer: the key cannot be
// read, the RNG failed). The shim refuses the start on both.
class [[nodiscard]] ApprovalStatus {
 public:
  static ApprovalStatus Ok() { return ApprovalStatus(Code::kOk, {}); }
  static ApprovalStatus Refused(std::string reason) {
    return ApprovalStatus(Code::kRefused, std::move(reason));
  }
  static ApprovalStatus Error(std::string reason) {
    return ApprovalStatus(Code::kError, std::move(reason));
  }

  bool ok() const { return code_ == Code::kOk; }
  bool refused() const { return code_ == Code::kRefused; }
  bool error() const { return code_ == Code::kError; }
  const std::string& reason() const { return reason_; }  // empty when ok()

 private:
  enum class Code { kOk, kRefused, kError };
  ApprovalStatus(Code code, std::string reason) : code_(code), reason_(std::move(reason)) {}

  Code code_;
  std::string reason_;
};

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
ApprovalStatus LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner = 0);

// Creates `path` (it must not exist) holding 32 fresh random bytes, mode 0600,
// owned by the caller. For install scripts and tests.
ApprovalStatus CreateApprovalKey(const std::string& path);

enum class ApprovalKind { kSandbox, kContainer };

}  // namespace crigate::shim
