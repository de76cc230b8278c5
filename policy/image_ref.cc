#include "policy/image_ref.h"

#include <fmt/format.h>

#include <cctype>

namespace crigate::policy {
namespace {

constexpr size_t kMaxNameLength = 255;  // distribution's NameTotalLengthMax
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool AllLowerHex(std::string_view s) {
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return !s.empty();
}

// [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool ValidDomainComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  for (char ch : c) {
    if (!IsAlnum(ch) && ch != '-') return false;
  }
  return true;
}

bool ValidDomain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {  // [ipv6](:port)?
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char ch : d.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(ch)) && ch != ':') return false;
    }
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2) return false;
    return rest.substr(1).find_first_not_of("0123456789") == std::string_view::npos;
  }
  if (size_t colon = d.find(':'); colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    host = d.substr(0, colon);
  }
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    if (!ValidDomainComponent(host.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

base::Status Invalid(std::string_view text, std::string_view why) {
  return Fail(base::Code::INVALID_ARGUMENT,
              fmt::format("image reference '{}' is invalid: {}", text, why));
}

// Strips what would make a message unreadable: control bytes, long garbage.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace

bool IsDigest(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view algorithm = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  size_t want = algorithm == "sha256"   ? 64
                : algorithm == "sha384" ? 96
                : algorithm == "sha512" ? 128
                                        : 0;
  return want != 0 && hex.size() == want && AllLowerHex(hex);
}

std::string ImageRef::Name() const { return is_id ? std::string() : domain + "/" + path; }

std::string ImageRef::String() const {
  if (is_id) return digest;
  std::string out = Name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageRef> ParseImageRef(std::string_view text) {
  const std::string shown = Printable(text);
  if (text.empty()) return Invalid(shown, "empty");
  for (char c : text) {
    if (c <= 0x20 || c >= 0x7f) return Invalid(shown, "contains a space or a non-ASCII byte");
  }
  if (text.size() > kMaxNameLength + 1 + kMaxTagLength + 1 + 7 + 128) {
    return Invalid(shown, "too long");
  }

  ImageRef ref;
  // An image id: 64 hex alone, or "sha256:<64 hex>".
  if (text.size() == 64 && AllLowerHex(text)) {
    ref.is_id = true;
    ref.digest = "sha256:" + std::string(text);
    return ref;
  }
  if (text.rfind("sha256:", 0) == 0) {
    if (!IsDigest(text))
      return Invalid(shown, "an image id must be sha256: and 64 lowercase hex digits");
    ref.is_id = true;
    ref.digest = std::string(text);
    return ref;
  }

  std::string_view name = text;
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    std::string_view digest = text.substr(at + 1);
    if (!IsDigest(digest)) {
      return Invalid(shown,
                     "the digest must be sha256: and 64 lowercase hex digits (or sha384/sha512)");
    }
    ref.digest = std::string(digest);
    name = text.substr(0, at);
  }
  size_t last_slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!ValidTag(tag)) {
      return Invalid(
          shown, fmt::format("tag '{}' must be 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                             Printable(tag)));
    }
    ref.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) return Invalid(shown, "no repository name");

  // The first component is a registry when it looks like a host: it has a
  // dot or a port, is "localhost", or is not all lowercase.
  size_t slash = name.find('/');
  std::string_view remainder = name;
  ref.domain = "docker.io";
  if (slash != std::string_view::npos) {
    std::string_view first = name.substr(0, slash);
    bool lower = true;
    for (char c : first) lower = lower && !(c >= 'A' && c <= 'Z');
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || !lower) {
      if (!ValidDomain(first))
        return Invalid(shown, fmt::format("registry '{}' is not a host[:port]", first));
      ref.domain = std::string(first);
      remainder = name.substr(slash + 1);
    }
  }
  if (ref.domain == "index.docker.io") ref.domain = "docker.io";
  if (ref.domain == "docker.io" && remainder.find('/') == std::string_view::npos) {
    ref.path = "library/" + std::string(remainder);
  } else {
    ref.path = std::string(remainder);
  }

  size_t start = 0;
  for (;;) {
    size_t next = ref.path.find('/', start);
    std::string_view component = std::string_view(ref.path).substr(start, next - start);
    if (!ValidPathComponent(component)) {
      bool upper = false;
      for (char c : component) upper = upper || (c >= 'A' && c <= 'Z');
      if (upper) return Invalid(shown, "repository name must be lowercase");
      return Invalid(shown, fmt::format("repository component '{}' must be lowercase letters and "
                                        "digits, separated by '.', '_', '__' or '-'",
                                        Printable(component)));
    }
    if (next == std::string::npos) break;
    start = next + 1;
  }
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength) {
    return Invalid(shown, "repository name is longer than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string NormaliseOrKeep(std::string_view text) {
  Result<ImageRef> ref = ParseImageRef(text);
  return ref.ok() ? ref->String() : std::string(text);
}

}  // namespace crigate::policy
