// How the trust stage sees one call: the names its image goes by, what the
// node holds for it, the pod and the privileges the call asks for; and the
// checks a matched rule makes on that. Internal to the trust stage (see
// trust_stage.h for what each action is checked against).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/gate.h"
#include "policy/image_ref.h"
#include "policy/image_resolver.h"
#include "policy/trust_store.h"

namespace crigate::policy {

struct TrustSubject {
  std::vector<ImageRef> names;            // matched against rules, in order
  std::string shown;                      // how reasons name the image
  std::optional<ImageIdentity> identity;  // what the node holds, when resolved
  std::string requested_digest;           // a digest the request itself pins
  bool check_pins = true;
  bool check_namespace = true;
  std::optional<std::string> pod_namespace;  // nullopt: unknown
  bool privileged = false;
  NamespaceModes host;
  const Resources* resources =
      nullptr;  // null: the call sets no limits; else points into the request
  // For the workload profile: the pod (RunPodSandbox's request, else the
  // real sandbox) and the container (the request's at CreateContainer, the
  // recorded one after). Null when the call has none.
  const PodInfo* pod = nullptr;
  const ContainerInfo* container = nullptr;
  std::string pod_dir;  // <kubelet root>/pods/<real pod uid>; set by the stage
};

// Fills *out for request, resolving through resolver. Returns the stage's
// answer when it is known before any rule is looked at: a refusal (image not
// on the node, malformed request, backend down), or Allow for a call that
// names no image.
std::optional<StageResult> DescribeCall(const GateRequest& request, CallState& state,
                                        ImageResolver& resolver, const std::string& sandbox_image,
                                        TrustSubject* out);

// The matched rule's checks; the first that fails, or nullopt.
std::optional<StageResult> ApplyRule(const TrustRule& rule, const TrustSubject& subject,
                                     std::string_view action);

// The image id and every repo digest's digest.
std::vector<std::string> DigestsOf(const ImageIdentity& identity);
// Normalised repo tags and repo digests, then the id.
std::vector<std::string> NameStrings(const ImageIdentity& identity);
// The digest to report: the pinned one that matched, else the manifest
// digest of the matched repository, else any repo digest, else the id.
std::string ReportedDigest(const ImageIdentity& identity, const TrustRule* rule,
                           const ImageRef* matched);

}  // namespace crigate::policy
