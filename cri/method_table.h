// The front door: which gRPC paths crigate serves at all.
//
// containerd answers its whole API (namespaces, containers, tasks, content,
// snapshots...) on the socket crigate forwards to, and grpc-go routes a path
// with or without its leading slash. So crigate serves only the CRI services
// and only when `:path` is spelled exactly "/<package>.<Service>/<Method>":
//   /runtime.v1.RuntimeService/<Method>      /runtime.v1.ImageService/<Method>
//   /runtime.v1alpha2.RuntimeService/<Method> /runtime.v1alpha2.ImageService/<Method>
// with <Method> an identifier ([A-Za-z][A-Za-z0-9_]*). Every other path (no
// leading slash, a double or trailing slash, another case, percent-encoding,
// another service) is answered by crigate itself and never forwarded.
//
// How much of the gate a served method passes is policy's method table
// (policy/actions.h, PolicyConfig::ClassOf): a method of a CRI service that
// the table does not know is mutating.
#pragma once

#include <string_view>

#include "policy/actions.h"

namespace crigate::cri {

struct MethodPath {
  bool served = false;  // false: answered by crigate, never forwarded
  policy::CriService service = policy::CriService::kRuntime;
  std::string_view package;  // "runtime.v1" or "runtime.v1alpha2"
  std::string_view method;   // "RunPodSandbox"; empty when not served
};

// The views point into path.
MethodPath ParseMethodPath(std::string_view path);

}  // namespace crigate::cri
