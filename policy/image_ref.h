// Image references read the way containerd and docker read them
// (github.com/distribution/reference: ParseNormalizedNamed + TagNameOnly,
// and ParseAnyReference for image ids), so that a trust rule written for
// "docker.io/library/busybox:*" matches what the node will actually pull.
//
//   busybox                        -> docker.io/library/busybox:latest
//   index.docker.io/foo/bar        -> docker.io/foo/bar:latest
//   localhost:5000/x               -> localhost:5000/x:latest
//   busybox@sha256:<64 hex>        -> docker.io/library/busybox@sha256:<64 hex>  (no default tag)
//   busybox:1.36@sha256:<64 hex>   -> docker.io/library/busybox:1.36@sha256:<64 hex>
//   sha256:<64 hex>, <64 hex>      -> an image id, "sha256:<64 hex>"
//
// One deliberate difference: "sha256:<not 64 hex>" is refused as a malformed
// id, where docker would read it as the tag of an image named "sha256".
#pragma once

#include <string>
#include <string_view>

#include "policy/result.h"

namespace crigate::policy {

struct ImageRef {
  std::string domain;  // "docker.io", "localhost:5000"; empty for an image id
  std::string path;    // "library/busybox"; empty for an image id
  std::string tag;     // "latest"; empty when only a digest is given, and for ids
  std::string digest;  // "sha256:<hex>"; for an id, the id itself
  bool is_id = false;  // an image id rather than a name

  std::string Name() const;    // "docker.io/library/busybox"; empty for an id
  std::string String() const;  // the normalised reference
};

// INVALID_ARGUMENT with a message naming the reference and what is wrong.
Result<ImageRef> ParseImageRef(std::string_view text);

// "sha256:<64 lowercase hex>" (or sha384/sha512 with their lengths).
bool IsDigest(std::string_view text);

// The normalised form of text when it parses, text itself otherwise; for
// comparisons where a failed parse simply means "no match".
std::string NormaliseOrKeep(std::string_view text);

}  // namespace crigate::policy
