// The CRI method table: every method of runtime.v1 / runtime.v1alpha2
// RuntimeService and ImageService, with the class that decides how much of
// the gate it passes through. One table, read by the front end (which paths
// it serves) and by the pipeline (which stages a call runs).
//
//   read-only   List*, *Status, Version, *Stats, ImageFsInfo, events, metrics.
//               Open to every caller that can reach the socket, unless
//               [gate] read_only_open = false makes them mutating.
//   mutating    everything else, and any method of a CRI service that this
//               table does not know: the privilege stage at least, and one
//               audit line.
//   gated       a mutating method named in [gate] methods: every stage.
//
// Exec, ExecSync, Attach and PortForward are one family: they all open a
// process or a socket inside a running pod, so naming one in [gate] methods
// gates all of them (ExpandFamilies).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace crigate::policy {

enum class CriService { kRuntime, kImage };

enum class MethodClass {
  kReadOnly,  // open unless read_only_open is false
  kMutating,  // privilege stage + audit
  kGated,     // the whole pipeline + audit
};

// "read-only", "mutating", "gated": for logs, audit records and the README.
const char* MethodClassName(MethodClass c);

// True for the methods the table knows in that service.
bool IsKnownMethod(CriService service, std::string_view method);

// Mutating and exec-like CRI methods the gate can stop: every known method
// that is not read-only.
const std::set<std::string>& GatableActions();
// Gated when [gate] methods is not set.
const std::set<std::string>& DefaultGatedActions();
// List*, *Status, Version, *Stats, ImageFsInfo, events.
const std::set<std::string>& ReadOnlyActions();
// Actions a token is required for when [token] required_for is not set.
// RemoveImage is left out on purpose: kubelet's image garbage collection
// removes images with no token.
const std::set<std::string>& DefaultTokenRequiredActions();
// Exec, ExecSync, Attach, PortForward.
const std::set<std::string>& ExecFamily();
// actions plus every member of a family one of them belongs to.
std::set<std::string> ExpandFamilies(std::set<std::string> actions);

bool IsReadOnlyAction(std::string_view action);
// Calls that name an existing container by id (StartContainer, Exec...).
bool IsContainerIdAction(std::string_view action);
// Calls that name an existing pod sandbox by id (StopPodSandbox, PortForward...).
bool IsPodIdAction(std::string_view action);
// Calls whose request carries an image reference (CreateContainer, PullImage, RemoveImage).
bool IsImageAction(std::string_view action);

}  // namespace crigate::policy
