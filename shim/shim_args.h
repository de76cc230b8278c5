// How containerd 1.6 calls a v2 shim, and what the wrapper must decide from it.
//
// containerd runs (runtime/v2/binary.go, runtime/v2/shim/util.go)
//   <shim> -namespace NS -address SOCK -publish-binary CONTAINERD [-debug] -id ID start
//       cwd = the bundle (holding config.json), stdin = the runtime options
//   <shim> -namespace NS -address SOCK -publish-binary CONTAINERD -id ID -bundle DIR delete
// and the runc shim's `start` re-executes itself with no subcommand to serve.
// The shim parses these with Go's flag package (runtime/v2/shim/shim.go):
// the first argument that is not a flag is the subcommand, "--" ends the
// flags, and an undefined flag is an error.
#pragma once

#include <string>

namespace crigate::shim {

struct ShimCall {
  // The subcommand as the real shim will see it: "start", "delete", "" (serve).
  std::string action;
  std::string id;          // -id, when given
  std::string namespace_;  // -namespace: containerd's namespace of the task
  // True when the arguments do not parse the way the real shim's Go flag
  // package would parse them for sure (an undefined flag, a flag without its
  // value, bad flag syntax). The wrapper then treats the call as a start:
  // it must never pass through a start it failed to recognise.
  bool unparsed = false;

  bool NeedsApproval() const { return unparsed || action == "start"; }
};

ShimCall ParseShimArgs(int argc, const char* const* argv);

}  // namespace crigate::shim
