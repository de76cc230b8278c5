// The audit log: one JSON object per line, appended with write(2) on an
// O_APPEND descriptor and (optionally) fdatasync'ed before Record returns,
// so a decision's record is on file before the caller hears the answer.
//
// Contract with the pipeline: when Record fails, the decision it records
// must not be acted on; the pipeline turns it into a deny (no decision
// without an audit record).
//
// Rotation by size: before a line that would take the file past max_bytes,
// path.(keep-1) ... path.1 move up one, path becomes path.1 and a new path
// is started; the oldest falls off. A failed rotation does not lose the
// record: it is written to the current file. A file moved or removed from
// under the log is noticed at the next record, which goes to a new file at
// path (or fails when path cannot be created). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "policy/base/time.h"
#include "policy/result.h"

namespace crigate::policy {

struct AuditOptions {
  std::string path;
  uint64_t max_bytes = 64ull << 20;  // 0: never rotate
  int keep = 5;                      // rotated files kept, path.1 (newest) to path.<keep>
  bool fsync = false;                // fdatasync after every record
  // Stamped on every record that has no "node" ({"id": node_id}), after its
  // time: decisions and watchdog stops name the node the same way.
  std::string node_id;
};

class AuditLog final {
 public:
  // Opens (creating with mode 0640) options.path; UNAVAILABLE naming the
  // path when it cannot.
  static Result<std::unique_ptr<AuditLog>> Open(
      AuditOptions options, const base::Clock& clock = base::SystemClock::Instance());
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends record (a JSON object; "time" is added first when absent) as one
  // line, keys in the record's order. Non-call events (the monitor's stops)
  // use this too, with a "type" field; a nlohmann::json converts implicitly.
  // OK only once the whole line is written (and synced, with fsync).
  base::Status Record(const nlohmann::ordered_json& record);

  const std::string& path() const { return options_.path; }
  uint64_t records() const;
  uint64_t failures() const;

 private:
  AuditLog(AuditOptions options, const base::Clock& clock, int fd)
      : options_(std::move(options)), clock_(clock), fd_(fd) {}

  base::Status OpenFile();  // requires mu_
  // A file removed or renamed by someone else (logrotate, an operator) is
  // let go, so records never vanish into an unlinked inode.
  void ReopenIfMoved();                          // requires mu_
  void RotateIfNeeded(uint64_t incoming);        // requires mu_
  base::Status Append(const std::string& line);  // requires mu_

  const AuditOptions options_;
  const base::Clock& clock_;

  mutable std::mutex mu_;
  int fd_ = -1;             // guarded by mu_; -1 after a failure, reopened on next record
  bool torn_line_ = false;  // guarded by mu_; a failed write may have left half a line
  uint64_t records_ = 0;    // guarded by mu_
  uint64_t failures_ = 0;   // guarded by mu_
};

}  // namespace crigate::policy
