#include "policy/actions.h"

namespace crigate::policy {

const std::set<std::string>& GatableActions() {
  static const std::set<std::string> kActions = {
      "RunPodSandbox",
      "StopPodSandbox",
      "RemovePodSandbox",
      "CreateContainer",
      "StartContainer",
      "StopContainer",
      "RemoveContainer",
      "UpdateContainerResources",
      "ReopenContainerLog",
      "ExecSync",
      "Exec",
      "Attach",
      "PortForward",
      "UpdateRuntimeConfig",
      "CheckpointContainer",
      "PullImage",
      "RemoveImage",
  };
  return kActions;
}

const std::set<std::string>& DefaultGatedActions() {
  static const std::set<std::string> kActions = {"RunPodSandbox", "CreateContainer",
                                                 "StartContainer", "PullImage", "RemoveImage"};
  return kActions;
}

const std::set<std::string>& ReadOnlyActions() {
  static const std::set<std::string> kActions = {
      "Version",
      "Status",
      "ListPodSandbox",
      "PodSandboxStatus",
      "ListContainers",
      "ContainerStatus",
      "ContainerStats",
      "ListContainerStats",
      "PodSandboxStats",
      "ListPodSandboxStats",
      "ListImages",
      "ImageStatus",
      "ImageFsInfo",
      "GetContainerEvents",
      "ListMetricDescriptors",
      "ListPodSandboxMetrics",
  };
  return kActions;
}

const std::set<std::string>& DefaultTokenRequiredActions() {
  static const std::set<std::string> kActions = {"RunPodSandbox", "CreateContainer",
                                                 "StartContainer", "PullImage"};
  return kActions;
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

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace crigate::policy
