#include "policy/cli_flags.h"

#include <ostream>

namespace crigate::policy {

std::string CliFlags::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

std::optional<CliFlags> ParseCliFlags(const std::vector<std::string>& args,
                                      const std::set<std::string>& known, std::string_view command,
                                      std::ostream& err) {
  CliFlags parsed;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      err << command << ": --" << name << " needs a value\n";
      return std::nullopt;
    }
    if (!known.count(name)) {
      err << command << ": unknown option --" << name << "\n";
      return std::nullopt;
    }
    parsed.flags[name] = value;
  }
  return parsed;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace crigate::policy
