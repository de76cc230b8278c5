#include "cri/method_table.h"

namespace crigate::cri {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !digit(c) && c != '_') return false;
  }
  return true;
}

struct ServedService {
  std::string_view prefix;  // "/runtime.v1.RuntimeService/"
  std::string_view package;
  policy::CriService service;
};

constexpr ServedService kServed[] = {
    {"/runtime.v1.RuntimeService/", "runtime.v1", policy::CriService::kRuntime},
    {"/runtime.v1.ImageService/", "runtime.v1", policy::CriService::kImage},
    {"/runtime.v1alpha2.RuntimeService/", "runtime.v1alpha2", policy::CriService::kRuntime},
    {"/runtime.v1alpha2.ImageService/", "runtime.v1alpha2", policy::CriService::kImage},
};

}  // namespace

MethodPath ParseMethodPath(std::string_view path) {
  MethodPath out;
  for (const ServedService& s : kServed) {
    if (path.substr(0, s.prefix.size()) != s.prefix) continue;
    std::string_view method = path.substr(s.prefix.size());
    if (!IsIdentifier(method)) return out;
    out.served = true;
    out.service = s.service;
    out.package = s.package;
    out.method = method;
    return out;
  }
  return out;
}

}  // namespace crigate::cri
