#include "policy/base/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>

#include "policy/base/text.h"

namespace crigate::base {
namespace {

// Closes the descriptor when the read is over, however it ended.
class Fd final {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  const int fd_;
};

std::string OctalMode(mode_t mode) {
  char text[8];
  (void)std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Reads up to max_bytes + 1 bytes of fd into *out; errno on failure.
int ReadAll(int fd, size_t max_bytes, std::string* out) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out->append(buffer, static_cast<size_t>(n));
    if (out->size() > max_bytes) return 0;
  }
}

// Opens path (flags added to O_RDONLY | O_CLOEXEC | O_NOCTTY) into *fd and
// fills *st; NOT_FOUND when it cannot be opened, INVALID_ARGUMENT when it is
// not a regular file.
Status OpenRegularFile(const std::string& path, int flags, std::unique_ptr<Fd>* fd,
                       struct stat* st) {
  *fd = std::make_unique<Fd>(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | flags));
  if ((*fd)->get() < 0 || fstat((*fd)->get(), st) != 0) {
    return Status::NotFound("cannot read " + path + ": " + ErrnoText(errno));
  }
  if (!S_ISREG(st->st_mode)) return Status::InvalidArgument(path + " is not a regular file");
  return Status::OK();
}

}  // namespace

std::string ErrnoText(int err) {
  char buffer[256];
  // GNU strerror_r: returns the text, which may or may not be in buffer.
  return strerror_r(err, buffer, sizeof(buffer));
}

Result<std::string> ReadBoundedFile(const std::string& path, ReadLimits limits) {
  std::unique_ptr<Fd> fd;
  struct stat st {};
  if (Status opened = OpenRegularFile(path, limits.follow_symlinks ? 0 : O_NOFOLLOW, &fd, &st);
      !opened.ok()) {
    return opened;
  }
  std::string data;
  if (int err = ReadAll(fd->get(), limits.max_bytes, &data); err != 0) {
    return Status::NotFound("cannot read " + path + ": " + ErrnoText(err));
  }
  if (data.size() > limits.max_bytes) {
    return Status::InvalidArgument(path + " is larger than " + std::to_string(limits.max_bytes) +
                                   " bytes");
  }
  return data;
}

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Status::NotFound("cannot read " + path + ": " + ErrnoText(errno));
  std::vector<std::string> names;
  // readdir is safe on a DIR* no other thread uses (glibc; POSIX.1-2018 drops
  // readdir_r for it).
  while (const dirent* entry = readdir(dir)) {  // NOLINT(concurrency-mt-unsafe)
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Secret::Secret(Secret&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
  }
  return *this;
}

Secret::~Secret() { Wipe(); }

void Secret::Wipe() {
  // The whole capacity: a moved-from or shrunk string may keep old bytes.
  bytes_.resize(bytes_.capacity());
  explicit_bzero(bytes_.data(), bytes_.size());
  bytes_.clear();
}

void Secret::TrimRight() {
  size_t end = bytes_.size();
  while (end > 0 && (bytes_[end - 1] == '\n' || bytes_[end - 1] == '\r' || bytes_[end - 1] == ' ' ||
                     bytes_[end - 1] == '\t')) {
    --end;
  }
  explicit_bzero(bytes_.data() + end, bytes_.size() - end);
  bytes_.resize(end);
}

Result<Secret> ReadSecretFile(const std::string& path, SecretRules rules) {
  std::unique_ptr<Fd> fd;
  struct stat st {};
  if (Status opened = OpenRegularFile(path, 0, &fd, &st); !opened.ok()) return opened;
  if (st.st_uid != rules.owner) {
    return Status::PermissionDenied(path + " is owned by uid " + std::to_string(st.st_uid) +
                                    ", must be owned by uid " + std::to_string(rules.owner) +
                                    " (chown it)");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied(path + " has mode " + OctalMode(st.st_mode) +
                                    ": group and others must have no access (chmod 600)");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size > rules.max_bytes) {
    return Status::InvalidArgument(path + " is larger than " + std::to_string(rules.max_bytes) +
                                   " bytes; not a key file");
  }
  if (size < rules.min_bytes) {
    return Status::InvalidArgument(path + " holds " + std::to_string(size) +
                                   " bytes; a key needs at least " +
                                   std::to_string(rules.min_bytes));
  }
  // Read straight into the key's own buffer, sized once: no copy and no
  // reallocation leaves key bytes behind in freed memory.
  Secret secret(std::string(size, '\0'));
  size_t got = 0;
  while (got < size) {
    const ssize_t n = read(fd->get(), secret.mutable_data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::NotFound("cannot read " + path + ": " + ErrnoText(errno));
    if (n == 0) return Status::NotFound("cannot read " + path + ": it shrank while being read");
    got += static_cast<size_t>(n);
  }
  return secret;
}

Status WriteFileAtomicallyAt(int dir_fd, const std::string& dir, const std::string& name,
                             std::string_view bytes, mode_t mode) {
  const std::string tmp = name + ".tmp";
  const std::string tmp_path = dir + "/" + tmp;
  const int fd = openat(dir_fd, tmp.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
  if (fd < 0) return Status::Internal(tmp_path + ": cannot create: " + ErrnoText(errno));
  int err = 0;
  for (std::string_view rest = bytes; err == 0 && !rest.empty();) {
    const ssize_t n = write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
    } else {
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }
  // umask narrows what open(2) creates; the file's mode is the caller's.
  if (err == 0 && fchmod(fd, mode) != 0) err = errno;
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    (void)unlinkat(dir_fd, tmp.c_str(), 0);
    return Status::Internal(tmp_path + ": cannot write: " + ErrnoText(err));
  }
  if (renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    err = errno;
    (void)unlinkat(dir_fd, tmp.c_str(), 0);
    return Status::Internal(tmp_path + ": cannot rename to " + name + ": " + ErrnoText(err));
  }
  if (fsync(dir_fd) != 0) {
    return Status::Internal(dir + ": cannot sync the directory: " + ErrnoText(errno));
  }
  return Status::OK();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Fd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return Status::Internal(dir + ": cannot open: " + ErrnoText(errno));
  return WriteFileAtomicallyAt(dir_fd.get(), dir, name, bytes, mode);
}

Result<uint64_t> ReadDecimalFile(const std::string& path, size_t max_bytes) {
  ReadLimits limits;
  limits.max_bytes = max_bytes;
  limits.follow_symlinks = false;
  Result<std::string> text = ReadBoundedFile(path, limits);
  if (!text.ok()) return text.status();
  std::string_view digits = *text;
  if (EndsWith(digits, "\n")) digits.remove_suffix(1);
  std::optional<uint64_t> value = ParseDecimal(digits);
  if (!value) return Status::InvalidArgument(path + ": not a whole decimal number");
  return *value;
}

}  // namespace crigate::base
