// The part of a bundle's OCI spec (config.json) the wrapper looks at: its
// annotations. Nothing else in the spec is interpreted here; runc reads the
// same file afterwards.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "shim/approval.h"

namespace crigate::shim {

// containerd has no limit; specs are a few KiB, large ones (many mounts or
// env entries) well under a MiB.
inline constexpr size_t kMaxSpecBytes = 16 << 20;

// Reads `path` and returns the spec's top-level "annotations" object (string
// values only; a spec without one gives an empty map). Error when the file
// cannot be read, is over kMaxSpecBytes, or is not a JSON object.
ApprovalStatus ReadSpecAnnotations(const std::string& path,
                                   std::map<std::string, std::string>* annotations);

}  // namespace crigate::shim
