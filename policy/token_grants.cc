#include "policy/token_grants.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "policy/base/files.h"

namespace crigate::policy {
namespace {

using Code = base::Code;
namespace fs = std::filesystem;

// A kept token file; far above any token (kMaxTokenBytes), far below memory trouble.
constexpr size_t kMaxGrantFileBytes = size_t{64} * 1024;

}  // namespace

bool IsFullContainerdId(const std::string& id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::unique_ptr<TokenGrants>> TokenGrants::Open(const std::string& dir,
                                                       std::chrono::seconds max_age) {
  std::unique_ptr<TokenGrants> grants(new TokenGrants(dir));
  if (dir.empty()) return grants;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(Code::UNAVAILABLE,
                fmt::format("cannot create {}: {}", dir, base::ErrnoText(errno)));
  }
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(Code::FAILED_PRECONDITION, fmt::format("{} is not a directory", dir));
  }
  if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    return Fail(Code::FAILED_PRECONDITION,
                fmt::format("{} must be owned by uid {} with no group or other access (it is "
                            "uid {}, mode {:04o})",
                            dir, geteuid(), st.st_uid, st.st_mode & 07777));
  }
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::error_code time_ec;
    const auto written = entry.last_write_time(time_ec);
    if (!time_ec && now - written > max_age) fs::remove(entry.path(), time_ec);
  }
  if (ec) return Fail(Code::UNAVAILABLE, fmt::format("cannot read {}: {}", dir, ec.message()));
  return grants;
}

std::string TokenGrants::PathOf(const std::string& container_id) const {
  return dir_ + "/" + container_id;
}

base::Status TokenGrants::Remember(const std::string& container_id, const std::string& token) {
  if (!IsFullContainerdId(container_id)) {
    return Fail(Code::INVALID_ARGUMENT,
                fmt::format("'{}' is not a containerd container id", container_id));
  }
  if (dir_.empty()) {
    std::lock_guard lock(mu_);
    memory_[container_id] = token;
    return base::Status::OK();
  }
  const std::string path = PathOf(container_id);
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Fail(Code::UNAVAILABLE, fmt::format("cannot write {}: {}", tmp, base::ErrnoText(errno)));
  }
  size_t done = 0;
  while (done < token.size()) {
    ssize_t n = write(fd, token.data() + done, token.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return Fail(Code::UNAVAILABLE, fmt::format("cannot write {}: {}", tmp, base::ErrnoText(err)));
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Fail(Code::UNAVAILABLE, fmt::format("cannot rename {}: {}", tmp, base::ErrnoText(err)));
  }
  return base::Status::OK();
}

std::optional<std::string> TokenGrants::Find(const std::string& container_id) const {
  if (!IsFullContainerdId(container_id)) return std::nullopt;
  if (dir_.empty()) {
    std::lock_guard lock(mu_);
    auto it = memory_.find(container_id);
    if (it == memory_.end()) return std::nullopt;
    return it->second;
  }
  int fd = open(PathOf(container_id).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::string token(kMaxGrantFileBytes + 1, '\0');
  size_t done = 0;
  for (;;) {
    ssize_t n = read(fd, token.data() + done, token.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
    if (done == token.size()) break;
  }
  close(fd);
  if (done == 0 || done > kMaxGrantFileBytes) return std::nullopt;
  token.resize(done);
  return token;
}

void TokenGrants::Forget(const std::string& container_id) {
  if (!IsFullContainerdId(container_id)) return;
  if (dir_.empty()) {
    std::lock_guard lock(mu_);
    memory_.erase(container_id);
    return;
  }
  unlink(PathOf(container_id).c_str());
}

}  // namespace crigate::policy
