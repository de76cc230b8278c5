// The one way policy/ reports failure: the bottom floor's Status (a code and
// a message an operator can act on) and Result (a value or the Status that
// says why there is none), policy/base/status.h. No exception crosses a
// policy/ header; code that calls throwing libraries catches at its edge and
// returns one of these. gRPC's own status appears only at the gRPC edge
// (cri/), which maps one to the other code for code.
#pragma once

#include <string>
#include <utility>

#include "policy/base/status.h"

namespace crigate::policy {

template <typename T>
using Result = base::Result<T>;

inline base::Status Fail(base::Code code, std::string message) {
  return base::Status(code, std::move(message));
}

}  // namespace crigate::policy
