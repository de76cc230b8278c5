// CRI action names (a method's last path segment) as policy/ reasons about
// them: which can be gated, which are read-only, what a call acts on.
//
// The gatable and read-only lists are the same as cri/method_table's; policy/
// is the lower layer, so it keeps its own copy rather than linking cri/.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace crigate::policy {

// Mutating and exec-like CRI methods the gate can stop.
const std::set<std::string>& GatableActions();
// Gated when [gate] methods is not set.
const std::set<std::string>& DefaultGatedActions();
// List*, *Status, Version, *Stats, ImageFsInfo, events.
const std::set<std::string>& ReadOnlyActions();
// Actions a token is required for when [token] required_for is not set.
// RemoveImage is left out on purpose: kubelet's image garbage collection
// removes images with no token.
const std::set<std::string>& DefaultTokenRequiredActions();

bool IsReadOnlyAction(std::string_view action);
// Calls that name an existing container by id (StartContainer, Exec...).
bool IsContainerIdAction(std::string_view action);
// Calls that name an existing pod sandbox by id (StopPodSandbox, PortForward...).
bool IsPodIdAction(std::string_view action);
// Calls whose request carries an image reference (CreateContainer, PullImage, RemoveImage).
bool IsImageAction(std::string_view action);

// "a, b, c", for messages.
std::string JoinNames(const std::set<std::string>& names);

}  // namespace crigate::policy
