// Who is on the other end of each accepted connection.
//
// grpc++ 1.51 exposes no SO_PEERCRED for unix sockets, so crigate accepts the
// connections itself, reads the credentials, records them here keyed by fd,
// and only then hands the fd to grpc (AddInsecureChannelFromFd). Inside a
// call, ServerContext::peer() is "fd:<N>"; grpc closes N only after the
// connection's last call is done, so a live call's N always names its own
// connection. An entry is overwritten when the kernel reuses the fd number.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include "policy/gate.h"

namespace crigate::cri {

// Reads SO_PEERCRED of a connected unix socket; nullopt when it cannot.
std::optional<policy::Caller> ReadPeerCredentials(int fd);

// Parses grpc's peer string "fd:<N>" strictly (digits only, no sign, fits an
// int); nullopt for anything else.
std::optional<int> ParsePeerFd(std::string_view peer);

class PeerRegistry final {
 public:
  void Put(int fd, const policy::Caller& caller);
  // The caller recorded for fd, or an unknown caller (known == false).
  policy::Caller Get(int fd) const;
  // Resolves a grpc peer string; unknown caller when it names no entry.
  policy::Caller Lookup(std::string_view peer) const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<int, policy::Caller> by_fd_;  // guarded by mu_
};

}  // namespace crigate::cri
