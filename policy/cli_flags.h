// Command-line flags for crigate's operator tools (`crigate token`,
// `crigate bundle`): one reading, one wording of the mistakes.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crigate::policy {

struct CliFlags {
  std::map<std::string, std::string> flags;  // --name value, or --name=value
  std::vector<std::string> positional;       // everything else, in order

  // The flag's value; fallback when it was not given.
  std::string Get(const std::string& name, const std::string& fallback = {}) const;
};

// args[0] is the verb and is skipped. Only the names in known are taken;
// nullopt with "<command>: unknown option --x" or "<command>: --x needs a
// value" on err otherwise.
std::optional<CliFlags> ParseCliFlags(const std::vector<std::string>& args,
                                      const std::set<std::string>& known, std::string_view command,
                                      std::ostream& err);

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitComma(const std::string& text);

}  // namespace crigate::policy
