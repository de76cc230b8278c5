#include "shim/approval.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

#include "shim/hmac_sha256.h"

namespace crigate::shim {
namespace {

constexpr size_t kMaxApprovalKeyBytes = 4096;

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

ApprovalKey::~ApprovalKey() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

ApprovalStatus LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return ApprovalStatus::Error("cannot open approval key " + path + ": " + Errno(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return ApprovalStatus::Error("cannot stat approval key " + path + ": " + Errno(err));
  }
  auto refuse = [&](std::string reason) {
    close(fd);
    return ApprovalStatus::Error("approval key " + path + " " + reason);
  };
  if (!S_ISREG(st.st_mode)) return refuse("is not a regular file");
  if (st.st_uid != required_owner) {
    return refuse("is owned by uid " + std::to_string(st.st_uid) + ", must be owned by uid " +
                  std::to_string(required_owner));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return refuse(std::string("has mode ") + mode +
                  ": group and others must have no access (chmod 600)");
  }
  if (st.st_size < static_cast<off_t>(kMinApprovalKeyBytes) ||
      st.st_size > static_cast<off_t>(kMaxApprovalKeyBytes)) {
    return refuse("holds " + std::to_string(st.st_size) + " bytes, needs " +
                  std::to_string(kMinApprovalKeyBytes) + " to " +
                  std::to_string(kMaxApprovalKeyBytes) + " random bytes");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return refuse(err != 0 ? "cannot be read: " + Errno(err) : "changed size while read");
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  *key = ApprovalKey(std::move(bytes));
  return ApprovalStatus::Ok();
}

ApprovalStatus CreateApprovalKey(const std::string& path) {
  unsigned char bytes[kMinApprovalKeyBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return ApprovalStatus::Error("cannot create approval key: no random bytes from OpenSSL");
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return ApprovalStatus::Error("cannot create approval key " + path + ": " + Errno(err));
  }
  size_t put = 0;
  while (put < sizeof(bytes)) {
    const ssize_t n = write(fd, bytes + put, sizeof(bytes) - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    put += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(bytes, sizeof(bytes));
  const int write_err = put == sizeof(bytes) ? 0 : (errno != 0 ? errno : EIO);
  const bool synced = write_err == 0 && fsync(fd) == 0;
  const int sync_err = synced ? 0 : errno;
  close(fd);
  if (!synced) {
    unlink(path.c_str());
    return ApprovalStatus::Error("cannot write approval key " + path + ": " +
                                 Errno(write_err != 0 ? write_err : sync_err));
  }
  return ApprovalStatus::Ok();
}

}  // namespace crigate::shim
