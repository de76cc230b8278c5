// base64url without padding (RFC 7515 section 2), strict: one text per byte
// string, so a token cannot be re-encoded into a second valid spelling.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crigate::base {

std::string Base64UrlEncode(std::string_view bytes);

// nullopt on any byte outside [A-Za-z0-9_-], on '=' padding, on a length of
// 1 mod 4, and on non-zero unused bits in the last character.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace crigate::base
