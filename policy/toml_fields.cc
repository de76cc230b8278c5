#include "policy/toml_fields.h"

#include <fmt/format.h>

#include "policy/actions.h"
#include "policy/duration.h"

namespace crigate::policy {

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
      errors_.push_back(fmt::format("{}[{}]: '{}' is not one of: {}", Name(key), i, items[i],
                                    JoinNames(allowed)));
      continue;
    }
    names.insert(items[i]);
  }
  if (errors_.size() == before) out = std::move(names);
}

void TomlFields::Duration(std::string_view key, std::chrono::seconds lo, std::chrono::seconds hi,
                          std::chrono::seconds& out) {
  const toml::node* node = Get(key);
  if (!node) return;
  Result<std::chrono::seconds> parsed = Fail(grpc::StatusCode::INVALID_ARGUMENT, "");
  if (auto n = node->value_exact<int64_t>()) {
    parsed = *n >= 0 ? Result<std::chrono::seconds>(std::chrono::seconds(*n))
                     : Fail(grpc::StatusCode::INVALID_ARGUMENT, "");
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

}  // namespace crigate::policy
