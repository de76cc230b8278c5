// The gate's own listening socket. crigate owns it (rather than letting grpc
// bind it) so that it can read each connection's peer credentials before the
// connection is handed to grpc.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "policy/base/status.h"

namespace crigate::cri {

struct SocketOptions {
  std::string path;
  mode_t mode = 0660;
  uid_t owner = static_cast<uid_t>(-1);  // -1: leave as created
  gid_t group = static_cast<gid_t>(-1);
};

class UnixListener final {
 public:
  // Binds and listens on options.path. A stale socket file is removed only
  // when nothing answers on it; a live one is an error (another crigate?).
  // Fails with a sentence for the log: INVALID_ARGUMENT for a path that
  // cannot be a socket address, FAILED_PRECONDITION when a non-socket file is
  // in the way, ALREADY_EXISTS when another process serves the path, and
  // UNAVAILABLE when a system call fails.
  static base::Result<std::unique_ptr<UnixListener>> Open(const SocketOptions& options);
  ~UnixListener();  // closes the socket and removes its file

  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Accepts until Stop(); every accepted fd is non-blocking and close-on-exec
  // and is passed to on_accept, which takes ownership of it. Transient errors
  // (EINTR, ECONNABORTED) are retried; running out of fds backs off briefly.
  void Run(const std::function<void(int fd)>& on_accept);
  // Thread-safe; Run returns soon after.
  void Stop();

  const std::string& path() const { return path_; }

 private:
  UnixListener(int fd, int wake_read, int wake_write, std::string path);

  const int fd_;
  const int wake_read_;
  const int wake_write_;
  const std::string path_;
  std::atomic<bool> stopping_{false};
};

}  // namespace crigate::cri
