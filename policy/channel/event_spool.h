// Events for the cloud, kept on disk until the broker has acknowledged them.
// The cloud channel (policy/channel/mqtt_channel.h) appends a watchdog stop
// here first and publishes from here, one event at a time, oldest first; an
// event leaves the spool only when the broker's PUBACK for it has arrived.
// So nothing is lost while the broker is unreachable, nor across a crigate
// restart, kill -9 included. Delivery is at least once: Remove does not wait
// for the disk, so an event removed just before a crash may be sent again.
//
// One file per event in a directory crigate owns (0700):
//   <dir>/<seq, 20 digits>.json   the event's bytes, written to a .tmp file,
//                                 fsync'ed and renamed, then the directory
//                                 fsync'ed: Append returns once it is durable
//   <dir>/dropped                 how many events the bound has pushed out,
//                                 ever (decimal text, replaced atomically)
//   <dir>/next_seq                the lowest seq a later process may use
//                                 (decimal text, replaced atomically)
// Files are read back in seq order on Open; a leftover *.tmp (a crash
// mid-append) is removed, and a file whose name or size is wrong is removed
// and counted as dropped, never sent. "Wrong name" means a name ending in
// ".json" that is not 20 digits + ".json"; any other file (a README, a
// lost+found) is not the spool's and is left alone.
//
// Seqs increase across restarts without a write per event: Append reserves
// seqs in blocks of 1024 by writing the block's end to next_seq, and Open
// starts at or above it (and above every event on disk). When next_seq is
// missing or unreadable (a first start, a wiped directory), the wall clock in
// microseconds since the epoch is the floor instead.
//
// Bounded: when max_events are waiting, Append first drops the oldest and
// counts it. Thread-safe: the watchdog's thread appends while the channel's
// thread reads the front and removes what was delivered. One mutex, held
// across an Append's fsyncs (file and directory: about 0.7 ms per Append on
// a VM's ext4 disk, so ~1400 appends/s), far above the rate of watchdog stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "policy/base/status.h"

namespace crigate::channel {

struct SpoolOptions {
  std::string dir;                    // created 0700 when missing; its parent must exist
  size_t max_events = 10000;          // waiting at most; past it the oldest go
  size_t max_event_bytes = 64 << 10;  // a larger event is refused by Append
};

struct SpooledEvent {
  uint64_t seq = 0;  // increasing in Append order, also across restarts
  std::string payload;
};

struct SpoolStats {
  uint64_t appended = 0;  // by this process
  uint64_t removed = 0;   // by this process (delivered)
  uint64_t dropped = 0;   // ever (persisted): pushed out by the bound, or unreadable
  size_t depth = 0;       // waiting now
};

class EventSpool final {
 public:
  // Opens (or creates) the spool directory and reads back what is waiting.
  // Fails when the directory cannot be created or read, or is not a
  // directory; the message names the path. INVALID_ARGUMENT when max_events
  // or max_event_bytes is 0.
  static base::Result<std::unique_ptr<EventSpool>> Open(SpoolOptions options);

  // Durable on OK. INVALID_ARGUMENT for an empty or too large payload;
  // INTERNAL (with the path and errno text) when the disk write fails, and
  // then nothing was added.
  base::Status Append(std::string_view payload);

  // The oldest waiting event; nullopt when none. Its payload is read from
  // disk, so a file that has become unreadable is dropped (and counted) and
  // the next one returned. Also nullopt, with the event kept for the next
  // call, when the process itself is out of descriptors or memory: that says
  // nothing about the file.
  std::optional<SpooledEvent> Front();

  // Removes the event with that seq (after its PUBACK). Removing a seq that
  // is no longer there (dropped meanwhile) is OK. INTERNAL when its file
  // cannot be deleted; the event is gone from this process all the same (it
  // was delivered) and will be sent again after a restart.
  base::Status Remove(uint64_t seq);

  SpoolStats stats() const;

 private:
  // Closes the spool directory's descriptor with the spool.
  class DirFd final {
   public:
    explicit DirFd(int fd) : fd_(fd) {}
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
    ~DirFd();
    int get() const { return fd_; }

   private:
    const int fd_;
  };

  EventSpool(SpoolOptions options, int dir_fd) : options_(std::move(options)), dir_(dir_fd) {}

  // Reads the directory back: the waiting seqs, the dropped count, the seq
  // floor. Only the listing failing fails it; the rest is best effort.
  base::Status LoadLocked();
  // name (in the directory) now holds bytes, durably: .tmp, fsync, rename,
  // fsync of the directory. On failure name may still have been replaced
  // (when only the directory's fsync failed).
  base::Status WriteAtomicallyLocked(const std::string& name, std::string_view bytes);
  // Forgets the oldest waiting event, deletes its file and counts it.
  void DropOldestLocked();
  // Writes stats_.dropped to the dropped file. Best effort: the count in
  // memory is right, and the next write carries it.
  void PersistDroppedLocked();
  std::string PathOf(const std::string& name) const { return options_.dir + "/" + name; }

  // Constant after construction.
  const SpoolOptions options_;
  const DirFd dir_;  // the spool directory, for *at() calls and its fsync

  mutable std::mutex mu_;
  std::deque<uint64_t> waiting_;  // seqs on disk, ascending; guarded by mu_
  uint64_t next_seq_ = 1;         // guarded by mu_
  uint64_t reserved_until_ = 0;   // next_seq on disk: seqs below it are ours; guarded by mu_
  SpoolStats stats_;              // guarded by mu_ (depth computed on read)
};

}  // namespace crigate::channel
