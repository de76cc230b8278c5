#include "cri/method_table.h"

#include "policy/actions.h"

namespace crigate::cri {

MethodInfo ClassifyMethod(std::string_view path) {
  MethodInfo info;
  if (path.size() < 4 || path[0] != '/') return info;
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash == 1 || slash + 1 == path.size()) return info;
  std::string_view action = path.substr(slash + 1);
  if (action.find('/') != std::string_view::npos) return info;
  info.service = path.substr(1, slash - 1);
  info.action = action;
  info.cri = info.service == "runtime.v1.RuntimeService" || info.service == "runtime.v1.ImageService" ||
             info.service == "runtime.v1alpha2.RuntimeService" ||
             info.service == "runtime.v1alpha2.ImageService";
  info.read_only = policy::IsReadOnlyAction(action);
  return info;
}

}  // namespace crigate::cri
