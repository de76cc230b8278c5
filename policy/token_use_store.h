// Remembers which token uses were allowed, until the tokens expire, across
// restarts (kill -9 included), so that each token use is allowed once.
//
// Protocol: Reserve (in memory, while the call is being decided), then
// either Commit (the call is allowed and audited: the use is written down
// before the allow goes out) or Release (the call was denied later, or
// containerd never ran it: the token is not used up). A reservation held by
// one call makes a second call with the same key a replay, so two concurrent
// uses of one token cannot both be allowed.
//
// On disk: an append-only text file, one record per line, never the key
// itself but the lowercase hex SHA-256 of the key (keys hold token ids, and
// any byte):
//   U <expires, unix milliseconds> <sha256 hex>\n   a committed use
//   R <sha256 hex>\n                                 a committed use released
// Durable because Commit appends its record and fdatasync()s before it
// returns OK, and the caller lets the call through only after that. Only
// the last record can be caught half-written by a crash; Open ignores a torn
// last line (no newline, or unparsable) and fails on any other bad line
// rather than forget uses (the daemon then refuses to start).
//
// Compaction writes the live committed uses to <path>.tmp, fdatasync()s it,
// renames it over path and fsync()s the directory, so a crash leaves either
// the old or the new file whole. It runs at Open, and after a Commit when
// the file holds more than 2 x live uses + 1024 records (a failed one there
// does not fail the Commit, whose record is already durable, and is retried
// once the file has doubled). Expired uses are dropped from memory when
// Reserve sees them expire, and from the file at the next compaction.
//
// Bounded: capacity caps unexpired entries (reserved + committed); when full,
// Reserve refuses (fail closed) rather than forget an unexpired use, which
// would let it be replayed. Thread-safe: one mutex, held across the
// fdatasync (about 0.2 ms on a local ext4 disk), so commits are serialised
// and a Reserve waits for a commit in flight; crigate's call rate is far
// below the ~5000 commits/s that allows. One process per file: nothing locks
// the file against a second crigate using the same path.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "policy/base/time.h"
#include "policy/result.h"

namespace crigate::policy {

class TokenUseStore final {
 public:
  enum class Outcome { kReserved, kReplayed, kFull };

  // path empty: memory only (for unit tests of other classes). Otherwise
  // opens path (created with mode 0600; its parent directory is created with
  // mode 0700 when missing, its grandparent must exist), reads it, drops the
  // uses expired before now and compacts it. Uses read from the file are kept
  // even beyond capacity (then Reserve says kFull until enough expire).
  // Fails with DATA_LOSS naming the file and line when a line other than the
  // last is corrupt, FAILED_PRECONDITION when path is not a regular file (a
  // symlink neither: compaction would replace it), UNAVAILABLE on I/O errors,
  // INVALID_ARGUMENT when capacity is 0.
  static Result<std::unique_ptr<TokenUseStore>> Open(const std::string& path, size_t capacity,
                                                     base::WallTime now);
  ~TokenUseStore();
  TokenUseStore(const TokenUseStore&) = delete;
  TokenUseStore& operator=(const TokenUseStore&) = delete;

  // Reserves key until expires. kReplayed when key is committed or reserved
  // (by another call) and not expired; kFull when capacity unexpired entries
  // are held. Entries whose expires is before now are dropped first. Memory
  // only, no I/O.
  Outcome Reserve(const std::string& key, base::WallTime expires, base::WallTime now);

  // Makes key's reservation durable: appends a use record and fdatasync()s
  // it before returning OK; after OK a restart (even kill -9) still knows
  // key as used until it expires. On an I/O error the reservation is dropped
  // (the token is not used up; the caller must deny the call) and the error
  // (UNAVAILABLE) names the file and the cause. FAILED_PRECONDITION when key
  // is not reserved: never reserved, already committed, released, or its
  // reservation expired and was dropped by a later Reserve.
  base::Status Commit(const std::string& key);

  // Forgets key, for a call the gate allowed but containerd never ran. A
  // reservation is just dropped; a committed use gets a release record
  // appended and fdatasync()ed, so it stays forgotten after a restart. On an
  // I/O error the use stays committed (UNAVAILABLE). A key not held (never
  // reserved, or expired and dropped) is OK: there is nothing to forget.
  base::Status Release(const std::string& key);

  // Entries held, reserved + committed; expired ones count until the next
  // Reserve drops them.
  size_t size() const;
  size_t capacity() const { return capacity_; }
  const std::string& path() const { return path_; }  // empty: memory only

 private:
  struct Entry {
    base::WallTime expires;
    bool committed = false;
  };
  using Entries = std::unordered_map<std::string, Entry>;

  TokenUseStore(std::string path, size_t capacity) : path_(std::move(path)), capacity_(capacity) {}

  base::Status Load(base::WallTime now);  // at Open, before anyone else sees the store
  void Insert(const std::string& digest, Entry entry);  // requires mu_
  void Erase(Entries::iterator it);                     // requires mu_
  void DropExpired(base::WallTime now);                 // requires mu_
  // Appends one whole record and syncs it; on failure the file is cut back
  // to its last whole record (or that is retried before the next append).
  base::Status Append(const std::string& record);  // requires mu_
  base::Status Compact();                          // requires mu_

  // Constant after construction.
  const std::string path_;  // empty: memory only
  const size_t capacity_;

  mutable std::mutex mu_;
  Entries entries_;  // guarded by mu_; by SHA-256 hex of the key
  std::set<std::pair<base::WallTime, std::string>>
      by_expiry_;                  // guarded by mu_; same, oldest first
  size_t committed_ = 0;           // guarded by mu_
  int fd_ = -1;                    // guarded by mu_; O_APPEND on path_, -1 in memory-only mode
  uint64_t records_ = 0;           // guarded by mu_; records in the file
  off_t file_size_ = 0;            // guarded by mu_; bytes of whole records
  bool tail_dirty_ = false;        // guarded by mu_; bytes past file_size_ from a failed append
  bool dir_sync_pending_ = false;  // guarded by mu_; a compaction's rename is not yet durable
  uint64_t compact_retry_at_ = 0;  // guarded by mu_; after a failed compaction, retry later
};

}  // namespace crigate::policy
