#include "policy/channel/event_spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <utility>
#include <vector>

#include "policy/base/files.h"
#include "policy/base/text.h"

namespace crigate::channel {
namespace {

constexpr char kDroppedName[] = "dropped";
constexpr char kNextSeqName[] = "next_seq";
constexpr std::string_view kEventSuffix = ".json";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr size_t kSeqDigits = 20;
// Seqs reserved per write of next_seq: one extra durable write per this many
// appends, and at most this many seqs skipped per restart.
constexpr uint64_t kSeqBlock = 1024;
// The last seq Append hands out, so that reserving a block cannot overflow.
constexpr uint64_t kLastSeq = std::numeric_limits<uint64_t>::max() - kSeqBlock;

std::string EventName(uint64_t seq) { return fmt::format("{:020}{}", seq, kEventSuffix); }

// The seq of an event file's name: exactly 20 digits + ".json".
std::optional<uint64_t> ParseEventName(std::string_view name) {
  if (name.size() != kSeqDigits + kEventSuffix.size() || !base::EndsWith(name, kEventSuffix)) {
    return std::nullopt;
  }
  return base::ParseDecimal(name.substr(0, kSeqDigits));
}

// A counter file's value; nullopt when it is absent or unreadable.
std::optional<uint64_t> ReadCounter(const std::string& path) {
  base::Result<uint64_t> value = base::ReadDecimalFile(path, 32);
  if (!value.ok()) return std::nullopt;
  return *value;
}

uint64_t NowMicros() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
  return micros > 0 ? static_cast<uint64_t>(micros) : 1;
}

// Errors that are the process's state, not the file's: the file is kept.
bool IsProcessShortage(int err) { return err == EMFILE || err == ENFILE || err == ENOMEM; }

// The bytes of the event file name into *out: 0, or the errno that kept it
// from being read; EINVAL when it is not a regular file or its size is
// outside 1..max_bytes. O_NONBLOCK so that a FIFO in its place cannot hang
// the channel.
int ReadEvent(int dir_fd, const std::string& name, size_t max_bytes, std::string* out) {
  const int fd =
      openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return errno;
  int err = 0;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    err = EINVAL;
  } else {
    char buffer[16384];
    while (err == 0) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      out->append(buffer, static_cast<size_t>(n));
      if (out->size() > max_bytes) err = EINVAL;
    }
  }
  close(fd);
  if (err == 0 && out->empty()) err = EINVAL;
  return err;
}

}  // namespace

EventSpool::DirFd::~DirFd() {
  if (fd_ >= 0) close(fd_);
}

base::Result<std::unique_ptr<EventSpool>> EventSpool::Open(SpoolOptions options) {
  if (options.max_events == 0 || options.max_event_bytes == 0) {
    return base::Status::InvalidArgument(options.dir +
                                         ": max_events and max_event_bytes must be at least 1");
  }
  if (mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;
    return base::Status::Internal(options.dir +
                                  ": cannot create the spool directory: " + base::ErrnoText(err) +
                                  (err == ENOENT ? " (its parent must exist)" : ""));
  }
  const int fd = open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return base::Status::Internal(options.dir +
                                  ": cannot open the spool directory: " + base::ErrnoText(errno));
  }
  std::unique_ptr<EventSpool> spool(new EventSpool(std::move(options), fd));
  {
    std::lock_guard<std::mutex> lock(spool->mu_);
    if (base::Status loaded = spool->LoadLocked(); !loaded.ok()) return loaded;
  }
  return spool;
}

base::Status EventSpool::LoadLocked() {
  auto names = base::ListDirectory(options_.dir);
  if (!names.ok()) return base::Status::Internal(names.error());

  uint64_t stored_dropped = 0;
  std::optional<uint64_t> floor;
  uint64_t malformed = 0;
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    if (base::EndsWith(name, kTmpSuffix)) {
      // A crash mid-write: its Append never returned OK, so nothing is lost.
      (void)unlinkat(dir_.get(), name.c_str(), 0);
      continue;
    }
    if (name == kDroppedName) {
      stored_dropped = ReadCounter(PathOf(name)).value_or(0);
      continue;
    }
    if (name == kNextSeqName) {
      floor = ReadCounter(PathOf(name));
      continue;
    }
    if (!base::EndsWith(name, kEventSuffix)) continue;  // not the spool's
    const std::optional<uint64_t> seq = ParseEventName(name);
    struct stat st {};
    const bool fits = fstatat(dir_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(st.st_mode) && st.st_size > 0 &&
                      static_cast<uint64_t>(st.st_size) <= options_.max_event_bytes;
    if (seq.has_value() && fits) {
      seqs.push_back(*seq);
    } else if (unlinkat(dir_.get(), name.c_str(), 0) == 0) {
      // A directory with an event's name fails here and stays: it is not
      // the spool's to empty.
      ++malformed;
    }
  }
  std::sort(seqs.begin(), seqs.end());
  waiting_.assign(seqs.begin(), seqs.end());
  stats_.dropped = stored_dropped + malformed;
  // A smaller bound than the last run's.
  while (waiting_.size() > options_.max_events) DropOldestLocked();
  if (stats_.dropped != stored_dropped) PersistDroppedLocked();

  next_seq_ = floor.value_or(NowMicros());
  if (!waiting_.empty() && waiting_.back() >= next_seq_) {
    next_seq_ = waiting_.back() == std::numeric_limits<uint64_t>::max() ? waiting_.back()
                                                                        : waiting_.back() + 1;
  }
  reserved_until_ = next_seq_;  // nothing reserved by this process yet
  return base::Status::OK();
}

base::Status EventSpool::Append(std::string_view payload) {
  if (payload.empty()) {
    return base::Status::InvalidArgument(options_.dir + ": an empty event is not spooled");
  }
  if (payload.size() > options_.max_event_bytes) {
    return base::Status::InvalidArgument(
        fmt::format("{}: an event of {} bytes is larger than the spool's limit of {} bytes",
                    options_.dir, payload.size(), options_.max_event_bytes));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (next_seq_ > kLastSeq) {
    return base::Status::Internal(
        fmt::format("{}: no seq left to give (next would be {}); {} has been set too high",
                    options_.dir, next_seq_, PathOf(kNextSeqName)));
  }
  if (next_seq_ >= reserved_until_) {
    const uint64_t until = next_seq_ + kSeqBlock;
    if (base::Status reserved = WriteAtomicallyLocked(kNextSeqName, std::to_string(until) + "\n");
        !reserved.ok()) {
      return reserved;
    }
    reserved_until_ = until;
  }
  // Used even if the write below fails: a seq that may have reached the
  // disk is never given twice.
  const uint64_t seq = next_seq_++;

  if (waiting_.size() >= options_.max_events) {
    while (waiting_.size() >= options_.max_events) DropOldestLocked();
    PersistDroppedLocked();
  }
  const std::string name = EventName(seq);
  if (base::Status written = WriteAtomicallyLocked(name, payload); !written.ok()) {
    // The rename may have happened, only not durably: nothing was added.
    (void)unlinkat(dir_.get(), name.c_str(), 0);
    return written;
  }
  waiting_.push_back(seq);
  ++stats_.appended;
  return base::Status::OK();
}

std::optional<SpooledEvent> EventSpool::Front() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t dropped_before = stats_.dropped;
  std::optional<SpooledEvent> front;
  while (!waiting_.empty() && !front.has_value()) {
    std::string payload;
    const int err =
        ReadEvent(dir_.get(), EventName(waiting_.front()), options_.max_event_bytes, &payload);
    if (err == 0) {
      front = SpooledEvent{waiting_.front(), std::move(payload)};
    } else if (IsProcessShortage(err)) {
      break;
    } else {
      DropOldestLocked();
    }
  }
  if (stats_.dropped != dropped_before) PersistDroppedLocked();
  return front;
}

base::Status EventSpool::Remove(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::lower_bound(waiting_.begin(), waiting_.end(), seq);
  if (it == waiting_.end() || *it != seq) return base::Status::OK();
  waiting_.erase(it);
  ++stats_.removed;
  const std::string name = EventName(seq);
  if (unlinkat(dir_.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
    return base::Status::Internal(PathOf(name) +
                                  ": cannot delete a delivered event: " + base::ErrnoText(errno) +
                                  "; it will be sent again after a restart");
  }
  return base::Status::OK();
}

SpoolStats EventSpool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SpoolStats stats = stats_;
  stats.depth = waiting_.size();
  return stats;
}

base::Status EventSpool::WriteAtomicallyLocked(const std::string& name, std::string_view bytes) {
  return base::WriteFileAtomicallyAt(dir_.get(), options_.dir, name, bytes, 0600);
}

void EventSpool::DropOldestLocked() {
  const uint64_t seq = waiting_.front();
  waiting_.pop_front();
  // Already gone is as good as deleted. One that cannot be deleted (a
  // failing disk) is read back by the next Open.
  (void)unlinkat(dir_.get(), EventName(seq).c_str(), 0);
  ++stats_.dropped;
}

void EventSpool::PersistDroppedLocked() {
  (void)WriteAtomicallyLocked(kDroppedName, std::to_string(stats_.dropped) + "\n");
}

}  // namespace crigate::channel
