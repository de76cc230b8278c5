#include "cri/peer_registry.h"

#include <sys/socket.h>

#include <mutex>

namespace crigate::cri {

std::optional<policy::Caller> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return std::nullopt;
  }
  policy::Caller caller;
  caller.pid = cred.pid;
  caller.uid = cred.uid;
  caller.gid = cred.gid;
  caller.known = true;
  return caller;
}

std::optional<int> ParsePeerFd(std::string_view peer) {
  constexpr std::string_view kPrefix = "fd:";
  if (peer.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view digits = peer.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  int fd = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    fd = fd * 10 + (c - '0');
  }
  return fd;
}

void PeerRegistry::Put(int fd, const policy::Caller& caller) {
  std::unique_lock lock(mu_);
  by_fd_[fd] = caller;
}

policy::Caller PeerRegistry::Get(int fd) const {
  std::shared_lock lock(mu_);
  auto it = by_fd_.find(fd);
  return it == by_fd_.end() ? policy::Caller{} : it->second;
}

policy::Caller PeerRegistry::Lookup(std::string_view peer) const {
  std::optional<int> fd = ParsePeerFd(peer);
  return fd ? Get(*fd) : policy::Caller{};
}

}  // namespace crigate::cri
