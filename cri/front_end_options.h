// What either front end (cri/proxy.h, cri/relay_gate.h) is told about the
// methods it serves, apart from the parts it calls.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "cri/method_table.h"
#include "policy/gate.h"

namespace crigate::cri {

// How much of the gate a served method passes (PolicyConfig::ClassOf).
using MethodClassifier = std::function<policy::MethodClass(policy::CriService, std::string_view)>;

// The class of a path: what `classify` says of a served CRI method; the
// strictest (gated) for anything else, or when there is no classifier.
inline policy::MethodClass ClassOf(const MethodClassifier& classify, const MethodPath& path) {
  if (!path.served || !classify) return policy::MethodClass::kGated;
  return classify(path.service, path.method);
}

struct ProxyOptions {
  std::string backend_target;  // for messages: "unix:///run/containerd/containerd.sock"
  // Read-only methods are relayed at once; mutating and gated ones are held
  // until the pipeline decides. Unset: everything is gated.
  MethodClassifier classify;
  // The largest request a held call may carry: containerd's own limit, so the
  // gate never allows (and uses a token for) what containerd then refuses.
  size_t max_message_bytes = 16 << 20;
  // Actions, gated or not, whose outcome the observer wants to know.
  std::set<std::string> observed_actions = {"StartContainer", "StopContainer", "RemoveContainer",
                                            "PullImage"};
};

}  // namespace crigate::cri
