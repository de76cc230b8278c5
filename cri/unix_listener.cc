#include "cri/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cri/log.h"
#include "policy/base/files.h"

namespace crigate::cri {
namespace {

std::string Errno(const char* what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, base::ErrnoText(errno));
}

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Whether the socket file at addr is a leftover that may be removed: only
// when connecting to it is refused (nobody listens). A connection, or any
// other failure (no permission, an LSM, no fds), leaves it alone: it may be
// another server's.
enum class SocketFile { kStale, kLive, kUnknown };

SocketFile Probe(const sockaddr_un& addr, int* error) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return SocketFile::kUnknown;
  }
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  *error = rc == 0 ? 0 : errno;
  close(fd);
  if (rc == 0) return SocketFile::kLive;
  return *error == ECONNREFUSED ? SocketFile::kStale : SocketFile::kUnknown;
}

void MakeParentDirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    mkdir(path.substr(0, pos).c_str(), 0755);  // EEXIST is fine; bind reports the rest
  }
}

}  // namespace

base::Result<std::unique_ptr<UnixListener>> UnixListener::Open(const SocketOptions& options) {
  sockaddr_un addr;
  if (!FillAddress(options.path, &addr)) {
    return base::Status::InvalidArgument(
        fmt::format("socket path '{}' is empty or longer than {} bytes", options.path,
                    sizeof(addr.sun_path) - 1));
  }
  struct stat st;
  if (lstat(options.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return base::Status(
          base::Code::FAILED_PRECONDITION,
          fmt::format("{} exists and is not a socket; refusing to replace it", options.path));
    }
    int error = 0;
    switch (Probe(addr, &error)) {
      case SocketFile::kLive:
        return base::Status(base::Code::ALREADY_EXISTS,
                            fmt::format("another process is already serving on {}", options.path));
      case SocketFile::kUnknown:
        return base::Status::Unavailable(
            fmt::format("cannot tell whether {} is still served ({}); refusing to replace it",
                        options.path, base::ErrnoText(error)));
      case SocketFile::kStale:
        break;
    }
    unlink(options.path.c_str());
  }
  MakeParentDirs(options.path);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return base::Status::Unavailable(Errno("cannot create socket for", options.path));
  // Bind with a tight umask, then widen to the configured mode: the socket is
  // never reachable by more users than configured, not even for a moment.
  mode_t old_umask = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old_umask);
  if (rc != 0) {
    base::Status failed = base::Status::Unavailable(Errno("cannot bind", options.path));
    close(fd);
    return failed;
  }
  std::string error;
  if ((options.owner != static_cast<uid_t>(-1) || options.group != static_cast<gid_t>(-1)) &&
      chown(options.path.c_str(), options.owner, options.group) != 0) {
    error = Errno("cannot chown", options.path);
  } else if (chmod(options.path.c_str(), options.mode) != 0) {
    error = Errno("cannot chmod", options.path);
  } else if (listen(fd, SOMAXCONN) != 0) {
    error = Errno("cannot listen on", options.path);
  } else {
    int wake[2];
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == 0) {
      return std::unique_ptr<UnixListener>(new UnixListener(fd, wake[0], wake[1], options.path));
    }
    error = Errno("cannot create wake pipe for", options.path);
  }
  close(fd);
  unlink(options.path.c_str());
  return base::Status::Unavailable(std::move(error));
}

UnixListener::UnixListener(int fd, int wake_read, int wake_write, std::string path)
    : fd_(fd), wake_read_(wake_read), wake_write_(wake_write), path_(std::move(path)) {}

UnixListener::~UnixListener() {
  close(fd_);
  close(wake_read_);
  close(wake_write_);
  unlink(path_.c_str());
}

void UnixListener::Stop() {
  stopping_.store(true);
  char byte = 1;
  ssize_t ignored = write(wake_write_, &byte, 1);
  (void)ignored;
}

void UnixListener::Run(const std::function<void(int fd)>& on_accept) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
  while (!stopping_.load()) {
    int ready = poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      log::Error("poll on {} failed: {}; accept loop stops", path_, base::ErrnoText(errno));
      return;
    }
    if (stopping_.load()) return;
    if (!(fds[0].revents & POLLIN)) continue;
    for (;;) {
      int conn = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (conn >= 0) {
        on_accept(conn);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log::Warn("accept on {}: {}; backing off 100 ms", path_, base::ErrnoText(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        break;
      }
      log::Error("accept on {} failed: {}", path_, base::ErrnoText(errno));
      break;
    }
  }
}

}  // namespace crigate::cri
