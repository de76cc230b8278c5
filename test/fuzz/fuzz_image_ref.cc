// Image references: parsing, normalisation and the digest check, on
// arbitrary text. A reference that parses must print to one that parses
// again to the same form.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/image_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)crigate::policy::IsDigest(text);
  const std::string kept = crigate::policy::NormaliseOrKeep(text);
  auto ref = crigate::policy::ParseImageRef(text);
  if (ref.ok()) {
    const std::string normal = ref->String();
    auto again = crigate::policy::ParseImageRef(normal);
    if (!again.ok() || again->String() != normal) std::abort();
    if (kept != normal) std::abort();
  }
  return 0;
}
