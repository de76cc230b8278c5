// Reads one TOML table field by field, with an error per bad key that names
// it in full ("token.keys[1]: ...", "rule[2].digests[0]: ..."), so a broken
// file is fixed from the message alone. Absent keys leave the default in
// place. Unknown keys are errors too.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crigate::base {

class TomlFields final {
 public:
  // prefix: "token" gives "token.keys: ...". table may be null (section absent).
  TomlFields(const toml::table* table, std::string prefix, std::vector<std::string>& errors);

  bool Has(std::string_view key) const;
  void Bool(std::string_view key, bool& out);
  void Int(std::string_view key, int64_t lo, int64_t hi, int64_t& out);
  void Int(std::string_view key, int lo, int hi, int& out);
  void Millis(std::string_view key, int64_t lo, int64_t hi, std::chrono::milliseconds& out);
  void Size(std::string_view key, int64_t lo, int64_t hi, size_t& out);
  // A number from 0 to 1 (an integer 0 or 1 too).
  void Ratio(std::string_view key, double& out);
  // empty_ok: whether "" is an acceptable value.
  void String(std::string_view key, std::string& out, bool empty_ok = false);
  void StringList(std::string_view key, std::vector<std::string>& out);
  // A list whose items must all be in allowed.
  void NameSet(std::string_view key, const std::set<std::string>& allowed,
               std::set<std::string>& out);
  // "300s" / "5m" / bare seconds, within [lo, hi].
  void Duration(std::string_view key, std::chrono::seconds lo, std::chrono::seconds hi,
                std::chrono::seconds& out);
  // Adds an error for every key not in known.
  void RejectUnknown(const std::set<std::string_view>& known);

  // "prefix.key", for messages about a key this class does not read itself.
  std::string Name(std::string_view key) const;
  void Error(std::string_view key, std::string_view message);
  const toml::node* Get(std::string_view key) const;

 private:
  const toml::table* const table_;
  const std::string prefix_;
  std::vector<std::string>& errors_;
};

// Reads (at most max_bytes) and parses a TOML file; nullopt with one error
// "path:line:col: what" (or "path: what") otherwise.
std::optional<toml::table> LoadTomlFile(const std::string& path, size_t max_bytes,
                                        std::vector<std::string>& errors);

// root[name] as a table; null (no error) when absent, null with an error
// when it is not a table.
const toml::table* SectionOf(const toml::table& root, std::string_view name,
                             std::vector<std::string>& errors);

}  // namespace crigate::base
