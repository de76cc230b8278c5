#include "policy/base/toml_fields.h"

#include <fmt/format.h>

#include "policy/base/duration.h"
#include "policy/base/files.h"
#include "policy/base/text.h"

namespace crigate::base {

TomlFields::TomlFields(const toml::table* table, std::string prefix,
                       std::vector<std::string>& errors)
    : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

std::string TomlFields::Name(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
}

void TomlFields::Error(std::string_view key, std::string_view message) {
  errors_.push_back(fmt::format("{}: {}", Name(key), message));
}

const toml::node* TomlFields::Get(std::string_view key) const {
  return table_ ? table_->get(key) : nullptr;
}

bool TomlFields::Has(std::string_view key) const { return Get(key) != nullptr; }

void TomlFields::Bool(std::string_view key, bool& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  if (auto v = node->value_exact<bool>()) {
    out = *v;
  } else {
    Error(key, "must be true or false");
  }
}

void TomlFields::Int(std::string_view key, int64_t lo, int64_t hi, int64_t& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  auto v = node->value_exact<int64_t>();
  if (!v || *v < lo || *v > hi) {
    Error(key, fmt::format("must be an integer from {} to {}", lo, hi));
    return;
  }
  out = *v;
}

void TomlFields::String(std::string_view key, std::string& out, bool empty_ok) {
  const toml::node* node = Get(key);
  if (!node) return;
  auto v = node->value_exact<std::string>();
  if (!v || (!empty_ok && v->empty())) {
    Error(key, empty_ok ? "must be a string" : "must be a non-empty string");
    return;
  }
  out = *v;
}

void TomlFields::StringList(std::string_view key, std::vector<std::string>& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  const toml::array* list = node->as_array();
  if (!list) {
    Error(key, "must be a list of strings");
    return;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (size_t i = 0; i < list->size(); ++i) {
    auto v = (*list)[i].value_exact<std::string>();
    if (!v || v->empty()) {
      errors_.push_back(fmt::format("{}[{}]: must be a non-empty string", Name(key), i));
      ok = false;
      continue;
    }
    items.push_back(*v);
  }
  if (ok) out = std::move(items);
}

void TomlFields::NameSet(std::string_view key, const std::set<std::string>& allowed,
                         std::set<std::string>& out) {
  const size_t before = errors_.size();
  std::vector<std::string> items;
  StringList(key, items);
  if (errors_.size() != before || !Has(key)) return;
  std::set<std::string> names;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!allowed.count(items[i])) {
      errors_.push_back(
          fmt::format("{}[{}]: '{}' is not one of: {}", Name(key), i, items[i], Join(allowed)));
      continue;
    }
    names.insert(items[i]);
  }
  if (errors_.size() == before) out = std::move(names);
}

void TomlFields::Int(std::string_view key, int lo, int hi, int& out) {
  int64_t v = out;
  Int(key, int64_t{lo}, int64_t{hi}, v);
  out = static_cast<int>(v);
}

void TomlFields::Millis(std::string_view key, int64_t lo, int64_t hi,
                        std::chrono::milliseconds& out) {
  int64_t v = out.count();
  Int(key, lo, hi, v);
  out = std::chrono::milliseconds(v);
}

void TomlFields::Size(std::string_view key, int64_t lo, int64_t hi, size_t& out) {
  int64_t v = static_cast<int64_t>(out);
  Int(key, lo, hi, v);
  out = static_cast<size_t>(v);
}

void TomlFields::Ratio(std::string_view key, double& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  std::optional<double> v = node->value_exact<double>();
  if (!v) {
    if (auto i = node->value_exact<int64_t>()) v = static_cast<double>(*i);
  }
  if (!v || !(*v >= 0.0 && *v <= 1.0)) {
    Error(key, "must be a ratio from 0 to 1");
    return;
  }
  out = *v;
}

void TomlFields::Duration(std::string_view key, std::chrono::seconds lo, std::chrono::seconds hi,
                          std::chrono::seconds& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  Result<std::chrono::seconds> parsed = Status::InvalidArgument("");
  if (auto n = node->value_exact<int64_t>()) {
    parsed = *n >= 0 ? Result<std::chrono::seconds>(std::chrono::seconds(*n))
                     : Status::InvalidArgument("");
  } else if (auto s = node->value_exact<std::string>()) {
    parsed = ParseDuration(*s);
  }
  if (!parsed.ok() || *parsed < lo || *parsed > hi) {
    Error(key, fmt::format("must be a duration from {}s to {}s, such as \"300s\", \"5m\" or \"1h\"",
                           lo.count(), hi.count()));
    return;
  }
  out = *parsed;
}

void TomlFields::RejectUnknown(const std::set<std::string_view>& known) {
  if (!table_) return;
  for (const auto& [key, value] : *table_) {
    if (!known.count(key.str())) Error(key.str(), "unknown key");
  }
}

std::optional<toml::table> LoadTomlFile(const std::string& path, size_t max_bytes,
                                        std::vector<std::string>& errors) {
  ReadLimits limits;
  limits.max_bytes = max_bytes;
  Result<std::string> text = ReadBoundedFile(path, limits);
  if (!text.ok()) {
    errors.push_back(text.error());
    return std::nullopt;
  }
  try {
    return toml::parse(*text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (where.line == 0) {
      errors.push_back(fmt::format("{}: {}", path, e.description()));
    } else {
      errors.push_back(
          fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
    }
  } catch (const std::exception& e) {
    errors.push_back(fmt::format("{}: {}", path, e.what()));
  }
  return std::nullopt;
}

const toml::table* SectionOf(const toml::table& root, std::string_view name,
                             std::vector<std::string>& errors) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) {
    errors.push_back(fmt::format("{}: must be a table ([{}])", name, name));
    return nullptr;
  }
  return node->as_table();
}

}  // namespace crigate::base
