#include "shim/used_approvals.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace crigate::shim {
namespace {

// mkdir -p, the last component 0700, parents 0755.
bool MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), pos == dir.size() ? 0700 : 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

// Removes records whose approvals expired before `before`. Best effort.
void Prune(int dir_fd, int64_t before) {
  const int fd = dup(dir_fd);
  if (fd < 0) return;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return;
  }
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    errno = 0;
    const long long expiry = std::strtoll(e->d_name, &end, 10);
    if (errno != 0 || end == e->d_name || *end != '-') continue;
    if (expiry < before) unlinkat(dir_fd, e->d_name, 0);
  }
  closedir(d);
}

}  // namespace

ApprovalStatus RecordFirstUse(const std::string& dir, const VerifiedApproval& approval,
                              int64_t now_unix) {
  if (approval.id.empty() || approval.id.find('/') != std::string::npos) {
    return ApprovalStatus::Error("approval has no usable id to record");
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0 && errno == ENOENT) {
    if (!MakeDirs(dir)) {
      const int err = errno;
      return ApprovalStatus::Error("cannot create " + dir +
                                   " to record used approvals: " + std::strerror(err));
    }
    dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (dir_fd < 0) {
    const int err = errno;
    return ApprovalStatus::Error("cannot open " + dir +
                                 " to record used approvals: " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(dir_fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    close(dir_fd);
    return ApprovalStatus::Error(dir + " must be a directory owned by uid " +
                                 std::to_string(geteuid()) + " and writable by no one else");
  }
  const std::string name = std::to_string(approval.expires_unix) + "-" + approval.id;
  const int fd = openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    close(dir_fd);
    if (err == EEXIST) {
      return ApprovalStatus::Refused(
          "approval was already used to start a task (each approval starts one task: copied "
          "from a started container or pod?)");
    }
    return ApprovalStatus::Error("cannot record the approval in " + dir + ": " +
                                 std::strerror(err));
  }
  close(fd);
  Prune(dir_fd, now_unix - kUsedApprovalGraceSeconds);
  close(dir_fd);
  return ApprovalStatus::Ok();
}

}  // namespace crigate::shim
