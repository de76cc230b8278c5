// The token a container was created with, kept by crigate for that
// container's later calls (StartContainer above all).
//
// kubelet sends StartContainer with nothing but the container id, and the
// token that allowed CreateContainer (in the pod's annotations) is removed
// from the request before it reaches containerd, which would hand it to any
// reader of ContainerStatus. So once containerd has created a container
// through the gate, crigate keeps its token here, keyed by containerd's full
// container id, and the token stage finds it there. The token is still
// verified on every use (signature, expiry, action, image, node, replay).
//
// On disk (dir not empty): one file per container, named by its id (64 hex
// digits; nothing else is accepted, so no path can be smuggled in), mode
// 0600 in a 0700 directory, written to a temporary name and renamed, so a
// restart between CreateContainer and StartContainer keeps it. Losing a file
// fails closed: the call then needs its token in `authorization` metadata.
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "policy/result.h"

namespace crigate::policy {

class TokenGrants final {
 public:
  // Creates dir (0700) when missing; drops files older than max_age (their
  // tokens have expired). dir empty: memory only.
  static Result<std::unique_ptr<TokenGrants>> Open(const std::string& dir,
                                                   std::chrono::seconds max_age);

  // INVALID_ARGUMENT for an id that is not 64 lowercase hex digits;
  // UNAVAILABLE when the file cannot be written.
  base::Status Remember(const std::string& container_id, const std::string& token);
  std::optional<std::string> Find(const std::string& container_id) const;
  void Forget(const std::string& container_id);

  const std::string& dir() const { return dir_; }

 private:
  explicit TokenGrants(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(const std::string& container_id) const;

  const std::string dir_;  // constant after construction; empty: memory only

  mutable std::mutex mu_;
  std::map<std::string, std::string> memory_;  // guarded by mu_; memory-only mode
};

// containerd's container and sandbox ids: 64 lowercase hex digits.
bool IsFullContainerdId(const std::string& id);

}  // namespace crigate::policy
