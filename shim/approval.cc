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

#include "policy/base/files.h"
#include "shim/hmac_sha256.h"

namespace crigate::shim {
namespace {

constexpr size_t kMaxApprovalKeyBytes = 4096;

}  // namespace

ApprovalKey::~ApprovalKey() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

base::Status LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner) {
  base::SecretRules rules;
  rules.min_bytes = kMinApprovalKeyBytes;
  rules.max_bytes = kMaxApprovalKeyBytes;
  rules.owner = required_owner;
  base::Result<base::Secret> secret = base::ReadSecretFile(path, rules);
  if (!secret.ok()) return Failed("approval key: " + secret.error());
  *key = ApprovalKey(std::string(secret->bytes()));
  return base::Status::OK();
}

base::Status CreateApprovalKey(const std::string& path) {
  unsigned char bytes[kMinApprovalKeyBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return Failed("cannot create approval key: no random bytes from OpenSSL");
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return Failed("cannot create approval key " + path + ": " + base::ErrnoText(err));
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
    return Failed("cannot write approval key " + path + ": " +
                  base::ErrnoText(write_err != 0 ? write_err : sync_err));
  }
  return base::Status::OK();
}

}  // namespace crigate::shim
