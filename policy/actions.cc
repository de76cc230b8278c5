#include "policy/actions.h"

#include <array>

namespace crigate::policy {
namespace {

struct MethodRow {
  CriService service;
  const char* name;
  bool read_only;
};

// cri-api v1 (Kubernetes 1.26); v1alpha2 has the same names or a subset.
constexpr std::array<MethodRow, 33> kMethods = {{
    {CriService::kRuntime, "Version", true},
    {CriService::kRuntime, "RunPodSandbox", false},
    {CriService::kRuntime, "StopPodSandbox", false},
    {CriService::kRuntime, "RemovePodSandbox", false},
    {CriService::kRuntime, "PodSandboxStatus", true},
    {CriService::kRuntime, "ListPodSandbox", true},
    {CriService::kRuntime, "CreateContainer", false},
    {CriService::kRuntime, "StartContainer", false},
    {CriService::kRuntime, "StopContainer", false},
    {CriService::kRuntime, "RemoveContainer", false},
    {CriService::kRuntime, "ListContainers", true},
    {CriService::kRuntime, "ContainerStatus", true},
    {CriService::kRuntime, "UpdateContainerResources", false},
    {CriService::kRuntime, "ReopenContainerLog", false},
    {CriService::kRuntime, "ExecSync", false},
    {CriService::kRuntime, "Exec", false},
    {CriService::kRuntime, "Attach", false},
    {CriService::kRuntime, "PortForward", false},
    {CriService::kRuntime, "ContainerStats", true},
    {CriService::kRuntime, "ListContainerStats", true},
    {CriService::kRuntime, "PodSandboxStats", true},
    {CriService::kRuntime, "ListPodSandboxStats", true},
    {CriService::kRuntime, "UpdateRuntimeConfig", false},
    {CriService::kRuntime, "Status", true},
    {CriService::kRuntime, "CheckpointContainer", false},
    {CriService::kRuntime, "GetContainerEvents", true},
    {CriService::kRuntime, "ListMetricDescriptors", true},
    {CriService::kRuntime, "ListPodSandboxMetrics", true},
    {CriService::kImage, "ListImages", true},
    {CriService::kImage, "ImageStatus", true},
    {CriService::kImage, "PullImage", false},
    {CriService::kImage, "RemoveImage", false},
    {CriService::kImage, "ImageFsInfo", true},
}};

std::set<std::string> Select(bool read_only) {
  std::set<std::string> out;
  for (const MethodRow& row : kMethods) {
    if (row.read_only == read_only) out.insert(row.name);
  }
  return out;
}

}  // namespace

const char* MethodClassName(MethodClass c) {
  switch (c) {
    case MethodClass::kReadOnly:
      return "read-only";
    case MethodClass::kMutating:
      return "mutating";
    case MethodClass::kGated:
      return "gated";
  }
  return "mutating";
}

bool IsKnownMethod(CriService service, std::string_view method) {
  for (const MethodRow& row : kMethods) {
    if (row.service == service && method == row.name) return true;
  }
  return false;
}

const std::set<std::string>& GatableActions() {
  static const std::set<std::string> kActions = Select(false);
  return kActions;
}

const std::set<std::string>& DefaultGatedActions() {
  static const std::set<std::string> kActions = {"RunPodSandbox", "CreateContainer",
                                                 "StartContainer", "PullImage", "RemoveImage"};
  return kActions;
}

const std::set<std::string>& ReadOnlyActions() {
  static const std::set<std::string> kActions = Select(true);
  return kActions;
}

const std::set<std::string>& DefaultTokenRequiredActions() {
  static const std::set<std::string> kActions = {"RunPodSandbox", "CreateContainer",
                                                 "StartContainer", "PullImage"};
  return kActions;
}

const std::set<std::string>& ExecFamily() {
  static const std::set<std::string> kActions = {"Exec", "ExecSync", "Attach", "PortForward"};
  return kActions;
}

std::set<std::string> ExpandFamilies(std::set<std::string> actions) {
  for (const std::string& member : ExecFamily()) {
    if (actions.count(member)) {
      actions.insert(ExecFamily().begin(), ExecFamily().end());
      break;
    }
  }
  return actions;
}

bool IsReadOnlyAction(std::string_view action) {
  return ReadOnlyActions().count(std::string(action)) > 0;
}

bool IsContainerIdAction(std::string_view action) {
  static const std::set<std::string_view> kActions = {
      "StartContainer",     "StopContainer", "RemoveContainer", "UpdateContainerResources",
      "ExecSync",           "Exec",          "Attach",          "ReopenContainerLog",
      "CheckpointContainer"};
  return kActions.count(action) > 0;
}

bool IsPodIdAction(std::string_view action) {
  return action == "StopPodSandbox" || action == "RemovePodSandbox" || action == "PortForward";
}

bool IsImageAction(std::string_view action) {
  return action == "CreateContainer" || action == "PullImage" || action == "RemoveImage";
}

}  // namespace crigate::policy
