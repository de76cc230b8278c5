#include "policy/token_use_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace crigate::policy {
namespace {

using Code = base::Code;
using Millis = std::chrono::milliseconds;

constexpr size_t kDigestHexSize = 64;
// Compaction in Commit once the file holds more than 2 x live + this many records.
constexpr uint64_t kCompactionSlack = 1024;
// The largest expiry a base::WallTime can hold, in whole milliseconds.
constexpr int64_t kMaxMillis =
    std::chrono::duration_cast<Millis>(base::WallTime::max().time_since_epoch()).count();

// strerror is not thread-safe; the GNU and the XSI strerror_r differ in
// their return type, and these two overloads take either.
[[maybe_unused]] std::string ErrorText(int result, const char* buffer, int err) {
  return result == 0 ? std::string(buffer) : fmt::format("error {}", err);
}
[[maybe_unused]] std::string ErrorText(const char* result, const char*, int) {
  return std::string(result);
}
std::string Describe(int err) {
  char buffer[256] = {};
  return ErrorText(strerror_r(err, buffer, sizeof(buffer)), buffer, err);
}

base::Status IoError(const std::string& what, const std::string& path, int err) {
  return Fail(Code::UNAVAILABLE,
              fmt::format("cannot {} token use file {}: {}", what, path, Describe(err)));
}

std::string Sha256Hex(const std::string& key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fails only when OpenSSL cannot allocate or has no SHA-256 at all. No
  // answer is safe then (a wrong digest would merge keys), so stop.
  if (EVP_Digest(key.data(), key.size(), md, &length, EVP_sha256(), nullptr) != 1) abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * size_t{length}, '0');
  for (size_t i = 0; i < length; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return hex;
}

// Rounded up, so that a use read back never expires earlier than it was held.
int64_t ToMillis(base::WallTime t) {
  int64_t ms = std::chrono::ceil<Millis>(t.time_since_epoch()).count();
  return ms < 0 ? 0 : ms > kMaxMillis ? kMaxMillis : ms;
}

base::WallTime FromMillis(int64_t ms) { return base::WallTime(Millis(ms)); }

std::string UseRecord(const std::string& digest, base::WallTime expires) {
  return fmt::format("U {} {}\n", ToMillis(expires), digest);
}

std::string ReleaseRecord(const std::string& digest) { return fmt::format("R {}\n", digest); }

bool IsHexSha256(std::string_view s) {
  if (s.size() != kDigestHexSize) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct Record {
  char kind = 0;  // 'U' or 'R'
  base::WallTime expires;
  std::string digest;
};

// Empty when line (without its newline) is a record, else what is wrong with it.
std::string ParseRecord(std::string_view line, Record* record) {
  if (line.size() < 2 || line[1] != ' ') return "not a record";
  record->kind = line[0];
  std::string_view rest = line.substr(2);
  if (record->kind == 'U') {
    size_t space = rest.find(' ');
    if (space == std::string_view::npos) return "use record without a digest";
    int64_t ms = -1;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + space, ms);
    if (ec != std::errc() || end != rest.data() + space || ms < 0 || ms > kMaxMillis) {
      return "bad expiry";
    }
    record->expires = FromMillis(ms);
    rest = rest.substr(space + 1);
  } else if (record->kind != 'R') {
    return "unknown record type";
  }
  if (!IsHexSha256(rest)) return "bad digest";
  record->digest = std::string(rest);
  return "";
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

int SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return err;
}

// 0 or the errno of the failed write.
int WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

int ReadAll(int fd, std::string* out) {
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

Result<std::unique_ptr<TokenUseStore>> TokenUseStore::Open(const std::string& path, size_t capacity,
                                                           base::WallTime now) {
  if (capacity == 0) return Fail(Code::INVALID_ARGUMENT, "token use store capacity is 0");
  std::unique_ptr<TokenUseStore> store(new TokenUseStore(path, capacity));
  if (!path.empty()) {
    if (base::Status status = store->Load(now); !status.ok()) return status;
  }
  return store;
}

TokenUseStore::~TokenUseStore() {
  if (fd_ >= 0) close(fd_);
}

base::Status TokenUseStore::Load(base::WallTime now) {
  std::lock_guard lock(mu_);
  const std::string parent = ParentOf(path_);
  struct stat st {};
  if (stat(parent.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError("find the directory of", path_, errno);
    if (mkdir(parent.c_str(), 0700) != 0) return IoError("create the directory of", path_, errno);
    // The new directory's entry must survive a crash as well as the file's.
    if (int err = SyncDirectory(ParentOf(parent)); err != 0) {
      return IoError("sync the directory of", path_, err);
    }
  }

  std::string text;
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return Fail(Code::FAILED_PRECONDITION,
                  fmt::format("token use file {} is not a regular file", path_));
    }
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return IoError("open", path_, errno);
    int err = ReadAll(fd, &text);
    close(fd);
    if (err != 0) return IoError("read", path_, err);
  } else if (errno != ENOENT) {
    return IoError("open", path_, errno);
  }

  // Only the last line can be torn: every append is synced before the next.
  std::vector<std::string_view> lines;
  std::string_view rest(text);
  for (size_t newline; (newline = rest.find('\n')) != std::string_view::npos;) {
    lines.push_back(rest.substr(0, newline));
    rest = rest.substr(newline + 1);
  }
  // rest, when not empty, is a line without its newline: torn, ignored.
  for (size_t i = 0; i < lines.size(); ++i) {
    Record record;
    std::string error = ParseRecord(lines[i], &record);
    if (!error.empty()) {
      if (i + 1 == lines.size() && rest.empty()) break;  // torn last line
      return Fail(Code::DATA_LOSS,
                  fmt::format("token use file {} line {} is corrupt ({}); crigate will not start "
                              "without knowing which tokens were used: restore the file, or move "
                              "it aside to accept that tokens used before may be replayed until "
                              "they expire",
                              path_, i + 1, error));
    }
    auto it = entries_.find(record.digest);
    if (it != entries_.end()) Erase(it);
    if (record.kind == 'U') Insert(record.digest, Entry{record.expires, true});
  }
  DropExpired(now);
  // Also cuts a torn last line away.
  return Compact();
}

void TokenUseStore::Insert(const std::string& digest, Entry entry) {
  by_expiry_.emplace(entry.expires, digest);
  if (entry.committed) ++committed_;
  entries_.emplace(digest, entry);
}

void TokenUseStore::Erase(Entries::iterator it) {
  by_expiry_.erase({it->second.expires, it->first});
  if (it->second.committed) --committed_;
  entries_.erase(it);
}

void TokenUseStore::DropExpired(base::WallTime now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
    Erase(entries_.find(by_expiry_.begin()->second));
  }
}

TokenUseStore::Outcome TokenUseStore::Reserve(const std::string& key, base::WallTime expires,
                                              base::WallTime now) {
  const std::string digest = Sha256Hex(key);
  std::lock_guard lock(mu_);
  DropExpired(now);
  if (entries_.count(digest)) return Outcome::kReplayed;
  if (entries_.size() >= capacity_) return Outcome::kFull;
  Insert(digest, Entry{expires, false});
  return Outcome::kReserved;
}

base::Status TokenUseStore::Commit(const std::string& key) {
  const std::string digest = Sha256Hex(key);
  std::lock_guard lock(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end() || it->second.committed) {
    return Fail(Code::FAILED_PRECONDITION,
                "token use committed without a reservation (or its reservation expired)");
  }
  if (fd_ >= 0) {
    if (base::Status status = Append(UseRecord(digest, it->second.expires)); !status.ok()) {
      Erase(it);
      return status;
    }
  }
  it->second.committed = true;
  ++committed_;
  if (fd_ >= 0 && records_ > 2 * uint64_t(committed_) + kCompactionSlack &&
      records_ >= compact_retry_at_) {
    // The use is durable in the current file either way; a failed compaction
    // is retried once the file has doubled, not on every commit.
    if (!Compact().ok()) compact_retry_at_ = 2 * records_;
  }
  return base::Status::OK();
}

base::Status TokenUseStore::Release(const std::string& key) {
  const std::string digest = Sha256Hex(key);
  std::lock_guard lock(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end()) return base::Status::OK();
  if (it->second.committed && fd_ >= 0) {
    if (base::Status status = Append(ReleaseRecord(digest)); !status.ok()) return status;
  }
  Erase(it);
  return base::Status::OK();
}

size_t TokenUseStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

base::Status TokenUseStore::Append(const std::string& record) {
  if (tail_dirty_) {
    if (ftruncate(fd_, file_size_) != 0) return IoError("cut a failed record from", path_, errno);
    tail_dirty_ = false;
  }
  if (dir_sync_pending_) {
    if (int err = SyncDirectory(ParentOf(path_)); err != 0) {
      return IoError("sync the directory of", path_, err);
    }
    dir_sync_pending_ = false;
  }
  int err = WriteAll(fd_, record);
  const char* what = "write";
  if (err == 0 && fdatasync(fd_) != 0) {
    err = errno;
    what = "sync";
  }
  if (err != 0) {
    // Cut the record away so that the file matches memory (and a later
    // record does not follow half a line); when that fails too, the next
    // append tries again first. A record that reaches the disk anyway only
    // keeps a token used up: the safe side.
    tail_dirty_ = ftruncate(fd_, file_size_) != 0;
    return IoError(what, path_, err);
  }
  file_size_ += static_cast<off_t>(record.size());
  ++records_;
  return base::Status::OK();
}

base::Status TokenUseStore::Compact() {
  std::string text;
  text.reserve(committed_ * (kDigestHexSize + 18));
  for (const auto& [expires, digest] : by_expiry_) {
    if (entries_.at(digest).committed) text += UseRecord(digest, expires);
  }
  const std::string tmp = path_ + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create the compacted", path_ + " (" + tmp + ")", errno);
  const char* what = nullptr;
  int err = 0;
  if (fchmod(fd, 0600) != 0) {  // whatever the umask
    what = "set the mode of the compacted";
    err = errno;
  } else if ((err = WriteAll(fd, text)) != 0) {
    what = "write the compacted";
  } else if (fdatasync(fd) != 0) {
    what = "sync the compacted";
    err = errno;
  } else if (rename(tmp.c_str(), path_.c_str()) != 0) {
    what = "rename the compacted file over the";
    err = errno;
  }
  if (err != 0) {
    close(fd);
    unlink(tmp.c_str());
    return IoError(what, path_, err);
  }
  // path_ now names the new file: append there from now on, even if the
  // directory sync fails (then every append retries it first and fails
  // until it succeeds, so no use is allowed that a crash could lose).
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  file_size_ = static_cast<off_t>(text.size());
  records_ = committed_;
  tail_dirty_ = false;
  compact_retry_at_ = 0;
  if ((err = SyncDirectory(ParentOf(path_))) != 0) {
    dir_sync_pending_ = true;
    return IoError("sync the directory of", path_, err);
  }
  dir_sync_pending_ = false;
  return base::Status::OK();
}

}  // namespace crigate::policy
