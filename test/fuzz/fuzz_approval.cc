// What the shim wrapper reads: approval records (arbitrary text, and
// arbitrary JSON signed with the key, to reach the fields behind the MAC)
// and runtime specs (the digest must not depend on spacing; the shape check
// must not crash on any JSON). The first byte picks the mode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "shim/approval_store.h"
#include "shim/runtime_spec.h"

namespace {

using namespace crigate::shim;

ShapeRules Rules() {
  ShapeRules rules;
  rules.check_args = true;
  rules.args = {"/pause"};
  rules.host_namespaces = {"network"};
  rules.namespace_path_prefix = "/proc/42/ns/";
  rules.bind_sources = {"/srv/data"};
  rules.bind_prefixes = {"/var/lib/containerd/cri/sandboxes/s1/"};
  rules.device_paths = {"/dev/fuse"};
  return rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ApprovalKey key(std::string(32, 'k'));
  static const ShapeRules rules = Rules();
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ApprovalRecord record;
  switch (data[0] % 3) {
    case 0:
      (void)ParseApprovalRecord(text, "c-x", key, 1'800'000'000, &record);
      break;
    case 1: {
      std::string signed_text;
      if (SignApprovalRecordText(text, key, &signed_text).ok()) {
        (void)ParseApprovalRecord(signed_text, "c-x", key, 1'800'000'000, &record);
      }
      break;
    }
    default: {
      nlohmann::json spec;
      if (!ParseRuntimeSpec(text, &spec).ok()) break;
      const std::string digest = SpecDigest(spec, "c1");
      nlohmann::json again;
      if (!ParseRuntimeSpec(spec.dump(2), &again).ok() || SpecDigest(again, "c1") != digest) {
        std::abort();  // the digest must not depend on how the JSON is spaced
      }
      (void)CheckSpecShape(spec, rules);
      (void)CriContainerType(spec);
      for (const char* name : {"io.kubernetes.cri.sandbox-name", "x"})
        (void)SpecAnnotation(spec, name);
      (void)record.sandbox.Rules("s1");
    }
  }
  return 0;
}
