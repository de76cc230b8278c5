// What the cloud is asked: the "input" document of an OPA Data API request,
// built from the gated call and what the stages before the cloud found.
//
//   {"input": {
//     "action":    "CreateContainer",
//     "caller":    {"known": true, "uid": 0, "gid": 0, "pid": 4242},   // {"known": false} if not
//     "image":     {"ref": "docker.io/library/busybox:latest", "digest": "sha256:..."},
//     "pod":       {"name", "namespace", "uid", "labels", "privileged",
//                   "host_network", "host_pid", "host_ipc", "runtime_handler"} | null,
//     "container": {"id", "name", "labels", "privileged", "capabilities",
//                   "host_network", "host_pid", "host_ipc",
//                   "resources": {"cpu_period", "cpu_quota", "cpu_shares", "memory_limit_bytes"}}
//                  | null,
//     "pod_sandbox_id": "...",                                            // when the call names
//     one "node":      {"id": "edge-1", "mac": "02:42:ac:11:00:02"}, "token_claims": {...verified
//     claims...} | null, "nonce":     "<32 hex>"                                           // fresh
//     per request
//   }}
//
// Annotations are never sent (they carry the token itself). For container-id
// calls (StartContainer, Exec...) pod and container come from the container
// the backend reported, when the stages before looked it up.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "policy/gate.h"

namespace crigate::cloud {

struct NodeIdentity {
  std::string id;
  std::string mac;
};

// nlohmann::json's implicit members are not declared noexcept; for these
// values they do not throw.
struct AuthzInput {  // NOLINT(bugprone-exception-escape)
  // The "input" object without the nonce: everything the decision may depend
  // on, and so the cache key.
  nlohmann::json input;
  std::string nonce;  // fresh per request; never part of the cache key

  // {"input": {..., "nonce": ...}}, compact.
  std::string RequestBody() const;
  // SHA-256 (raw 32 bytes) of the input without the nonce.
  std::string CacheKey() const;
};

// Never throws: a claims string that is not JSON is sent as
// {"unparsed": "<claims>"} rather than dropped.
AuthzInput BuildAuthzInput(const policy::GateRequest& request, const policy::CallState& state,
                           const NodeIdentity& node);

// 128 random bits as 32 hex characters.
std::string NewNonce();

}  // namespace crigate::cloud
