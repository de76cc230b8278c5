#include "shim/shim_args.h"

#include <string_view>

namespace crigate::shim {
namespace {

// The flags of containerd 1.6's runtime/v2/shim/shim.go parseFlags.
bool IsBoolFlag(std::string_view name) { return name == "debug" || name == "v"; }
bool IsValueFlag(std::string_view name) {
  return name == "namespace" || name == "id" || name == "socket" || name == "bundle" ||
         name == "address" || name == "publish-binary";
}

}  // namespace

ShimCall ParseShimArgs(int argc, const char* const* argv) {
  ShimCall call;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    // Go: a lone "-" or anything not starting with '-' is the first argument.
    if (arg.size() < 2 || arg[0] != '-') break;
    int dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags
        ++i;
        break;
      }
    }
    std::string_view name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      call.unparsed = true;  // Go: "bad flag syntax"
      return call;
    }
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (IsBoolFlag(name)) {
      // Go accepts -debug=true/false/1/0/t/f...; the value never affects
      // which subcommand follows.
      continue;
    }
    if (!IsValueFlag(name)) {
      call.unparsed = true;  // Go: "flag provided but not defined" (or -h/-help)
      return call;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        call.unparsed = true;  // Go: "flag needs an argument"
        return call;
      }
      value = argv[++i];
    }
    if (name == "id") call.id = std::string(value);
    if (name == "namespace") call.namespace_ = std::string(value);
  }
  if (i < argc) call.action = argv[i];
  return call;
}

}  // namespace crigate::shim
