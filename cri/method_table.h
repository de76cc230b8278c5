// What crigate knows about a CRI method from its gRPC path alone.
//
// Forwarding never depends on this table: every method, known or not, unary
// or streaming, is proxied as a bidirectional stream of raw messages (gRPC's
// wire format does not distinguish them). The table only says which methods
// the gate inspects.
#pragma once

#include <string>
#include <string_view>

namespace crigate::cri {

struct MethodInfo {
  std::string_view service;  // "runtime.v1.RuntimeService"; empty when the path is malformed
  std::string_view action;   // "RunPodSandbox"
  bool cri = false;          // a runtime.v1 or runtime.v1alpha2 Runtime/Image service
  bool read_only = false;    // List*, *Status, Version, *Stats, ImageFsInfo, events
};

// Splits "/<service>/<method>"; the views point into path.
MethodInfo ClassifyMethod(std::string_view path);

// The action sets (gatable, default gated, read-only) live in
// policy/actions.h: the pipeline decides with them too.

}  // namespace crigate::cri
