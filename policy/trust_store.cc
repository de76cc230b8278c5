#include "policy/trust_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "policy/actions.h"
#include "policy/base/toml_fields.h"

namespace crigate::policy {
namespace {

bool Glob(const std::string& pattern, std::string_view text) {
  return fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

constexpr size_t kMaxStoreBytes = 4 << 20;

// NAME[:TAG][@DIGEST], each part a glob; the split is after the last '/',
// so a registry port is part of NAME. A reference with no tag (digest only)
// matches a TAG glob only when it is "*": any tag or none.
bool MatchImageGlob(const std::string& pattern, const ImageRef& ref) {
  size_t slash = pattern.rfind('/');
  size_t start = slash == std::string::npos ? 0 : slash + 1;
  std::string name = pattern, tag, digest;
  if (size_t at = name.find('@', start); at != std::string::npos) {
    digest = name.substr(at + 1);
    name.resize(at);
  }
  bool has_tag = false;
  if (size_t colon = name.find(':', start); colon != std::string::npos) {
    has_tag = true;
    tag = name.substr(colon + 1);
    name.resize(colon);
  }
  if (!Glob(name, ref.Name())) return false;
  if (has_tag && !(ref.tag.empty() ? tag == "*" : Glob(tag, ref.tag))) return false;
  if (!digest.empty() && !(ref.digest.empty() ? digest == "*" : Glob(digest, ref.digest))) {
    return false;
  }
  return true;
}

bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// The rule's Pod Security Standards level and its exceptions.
void ParseWorkload(const toml::table& table, size_t index, base::TomlFields& f,
                   std::vector<std::string>& errors, WorkloadProfile& w) {
  std::string level = PssLevelName(w.level);
  f.String("profile", level);
  if (std::optional<PssLevel> parsed = ParsePssLevel(level)) {
    w.level = *parsed;
  } else {
    f.Error("profile", fmt::format("'{}' is not one of privileged, baseline, restricted", level));
  }
  std::vector<std::string> list;
  f.StringList("allow_capabilities", list);
  for (const std::string& cap : list) w.capabilities.insert(CapabilityName(cap));
  f.StringList("allowed_devices", w.devices);
  for (size_t i = 0; i < w.devices.size(); ++i) {
    if (w.devices[i].empty() || w.devices[i][0] != '/') {
      errors.push_back(fmt::format("rule[{}].allowed_devices[{}]: '{}' is not an absolute path",
                                   index, i, w.devices[i]));
    }
  }
  list.clear();
  f.StringList("allowed_sysctls", list);
  w.sysctls.insert(list.begin(), list.end());
  list.clear();
  f.StringList("allowed_selinux_types", list);
  w.selinux_types.insert(list.begin(), list.end());
  if (const toml::array* ports = table["allowed_host_ports"].as_array()) {
    for (size_t i = 0; i < ports->size(); ++i) {
      std::optional<int64_t> port = (*ports)[i].value<int64_t>();
      if (!port || *port < 1 || *port > 65535) {
        errors.push_back(
            fmt::format("rule[{}].allowed_host_ports[{}]: must be a port, 1 to 65535", index, i));
      } else {
        w.host_ports.insert(static_cast<int32_t>(*port));
      }
    }
  } else if (f.Has("allowed_host_ports")) {
    f.Error("allowed_host_ports", "must be a list of port numbers");
  }
  if (const toml::array* paths = table["host_paths"].as_array()) {
    for (size_t i = 0; i < paths->size(); ++i) {
      const toml::table* entry = (*paths)[i].as_table();
      std::vector<std::string> entry_errors;
      base::TomlFields e(entry, fmt::format("rule[{}].host_paths[{}]", index, i), entry_errors);
      AllowedHostPath allowed;
      if (!entry) {
        entry_errors.push_back(
            fmt::format("rule[{}].host_paths[{}]: must be a table such as {{ path = \"/srv/data\", "
                        "read_only = true }}",
                        index, i));
      } else {
        e.RejectUnknown({"path", "read_only"});
        e.String("path", allowed.path);
        e.Bool("read_only", allowed.read_only);
        if (allowed.path.empty() || allowed.path[0] != '/') {
          e.Error("path", "must be an absolute path");
        }
      }
      if (entry_errors.empty()) w.host_paths.push_back(std::move(allowed));
      errors.insert(errors.end(), entry_errors.begin(), entry_errors.end());
    }
  } else if (f.Has("host_paths")) {
    f.Error("host_paths",
            "must be a list of tables such as { path = \"/srv/data\", read_only = true }");
  }
  f.Bool("allow_unconfined_seccomp", w.allow_unconfined_seccomp);
  f.Bool("allow_unconfined_apparmor", w.allow_unconfined_apparmor);
  f.Bool("allow_unmasked_proc", w.allow_unmasked_proc);
  f.Bool("allow_root", w.allow_root);
  f.Bool("allow_privilege_escalation", w.allow_privilege_escalation);
  f.Bool("require_readonly_rootfs", w.require_readonly_rootfs);
  f.Bool("require_non_root", w.require_non_root);
  f.Bool("require_no_new_privs", w.require_no_new_privs);
}

void ParseRule(const toml::table& table, size_t index, std::vector<std::string>& errors,
               std::vector<TrustRule>& rules) {
  const size_t before = errors.size();
  base::TomlFields f(&table, fmt::format("rule[{}]", index), errors);
  f.RejectUnknown({"name",
                   "image",
                   "registry",
                   "repository",
                   "digests",
                   "namespaces",
                   "max_cpu_millicores",
                   "max_memory_bytes",
                   "allow_privileged",
                   "allow_host_network",
                   "allow_host_pid",
                   "allow_host_ipc",
                   "actions",
                   "profile",
                   "host_paths",
                   "allow_capabilities",
                   "allowed_devices",
                   "allowed_host_ports",
                   "allowed_sysctls",
                   "allowed_selinux_types",
                   "allow_unconfined_seccomp",
                   "allow_unconfined_apparmor",
                   "allow_unmasked_proc",
                   "allow_root",
                   "allow_privilege_escalation",
                   "require_readonly_rootfs",
                   "require_non_root",
                   "require_no_new_privs"});
  TrustRule rule;
  rule.name = fmt::format("rule[{}]", index);
  f.String("name", rule.name);
  f.String("image", rule.image);
  f.String("registry", rule.registry);
  f.String("repository", rule.repository);
  f.StringList("digests", rule.digests);
  f.StringList("namespaces", rule.namespaces);
  int64_t value = -1;
  f.Int("max_cpu_millicores", 1, int64_t{1} << 40, value);
  if (value > 0) rule.max_cpu_millicores = value;
  value = -1;
  f.Int("max_memory_bytes", 1, int64_t{1} << 60, value);
  if (value > 0) rule.max_memory_bytes = value;
  f.Bool("allow_privileged", rule.allow_privileged);
  f.Bool("allow_host_network", rule.allow_host_network);
  f.Bool("allow_host_pid", rule.allow_host_pid);
  f.Bool("allow_host_ipc", rule.allow_host_ipc);
  f.NameSet("actions", GatableActions(), rule.actions);
  ParseWorkload(table, index, f, errors, rule.workload);
  if (rule.workload.level == PssLevel::kPrivileged) {
    // The privileged level imposes nothing, these included.
    rule.allow_privileged = rule.allow_host_network = rule.allow_host_pid = rule.allow_host_ipc =
        true;
  }

  if (rule.image.empty() && rule.registry.empty() && rule.repository.empty()) {
    errors.push_back(
        fmt::format("rule[{}]: needs image, registry or repository "
                    "(image = \"*\" matches every image)",
                    index));
  }
  if (!rule.image.empty() && !HasGlobChars(rule.image)) {
    Result<ImageRef> ref = ParseImageRef(rule.image);
    if (!ref.ok()) {
      f.Error("image", ref.error());
    } else if (ref->is_id) {
      f.Error("image", "is an image id; pin ids with digests and match names with image");
    } else {
      rule.image = ref->String();
    }
  } else if (!rule.image.empty() && rule.image != "*" &&
             rule.image.find('/') == std::string::npos) {
    f.Error("image", fmt::format("'{}' is matched against normalised references such as "
                                 "docker.io/library/busybox:latest; write the registry and "
                                 "repository in full",
                                 rule.image));
  }
  for (size_t i = 0; i < rule.digests.size(); ++i) {
    if (!IsDigest(rule.digests[i])) {
      errors.push_back(fmt::format("rule[{}].digests[{}]: '{}' is not sha256:<64 lowercase hex>",
                                   index, i, rule.digests[i]));
    }
  }
  if (errors.size() == before) rules.push_back(std::move(rule));
}

}  // namespace

bool TrustRule::MatchesImage(const ImageRef& ref) const {
  if (ref.is_id) return false;
  return (image.empty() || MatchImageGlob(image, ref)) &&
         (registry.empty() || Glob(registry, ref.domain)) &&
         (repository.empty() || Glob(repository, ref.path));
}

bool TrustRule::AppliesTo(std::string_view action) const {
  return actions.empty() || actions.count(std::string(action)) > 0;
}

bool TrustRule::Pins(std::string_view digest) const {
  return std::find(digests.begin(), digests.end(), digest) != digests.end();
}

bool TrustRule::AllowsNamespace(std::string_view pod_namespace) const {
  if (namespaces.empty()) return true;
  return std::any_of(namespaces.begin(), namespaces.end(),
                     [&](const std::string& glob) { return Glob(glob, pod_namespace); });
}

std::shared_ptr<const TrustStore> TrustStore::Load(const std::string& path,
                                                   std::vector<std::string>& errors) {
  std::optional<toml::table> root = base::LoadTomlFile(path, kMaxStoreBytes, errors);
  if (!root) return nullptr;
  return Parse(*root, path, errors);
}

std::shared_ptr<const TrustStore> TrustStore::Parse(const toml::table& root,
                                                    const std::string& source,
                                                    std::vector<std::string>& errors) {
  std::vector<std::string> problems;
  base::TomlFields top(&root, "", problems);
  top.RejectUnknown({"rule"});
  std::vector<TrustRule> rules;
  if (const toml::node* node = root.get("rule")) {
    const toml::array* list = node->as_array();
    if (!list) {
      problems.push_back("rule: must be an array of tables ([[rule]])");
    } else {
      for (size_t i = 0; i < list->size(); ++i) {
        const toml::table* table = (*list)[i].as_table();
        if (!table) {
          problems.push_back(fmt::format("rule[{}]: must be a table", i));
          continue;
        }
        ParseRule(*table, i, problems, rules);
      }
    }
  }
  if (!problems.empty()) {
    for (const auto& p : problems) errors.push_back(fmt::format("{}: {}", source, p));
    return nullptr;
  }
  return std::shared_ptr<const TrustStore>(new TrustStore(std::move(rules), source));
}

const TrustRule* TrustStore::Match(const ImageRef& ref, std::string_view action) const {
  for (const TrustRule& rule : rules_) {
    if (rule.AppliesTo(action) && rule.MatchesImage(ref)) return &rule;
  }
  return nullptr;
}

const TrustRule* TrustStore::MatchAny(const std::vector<ImageRef>& refs, std::string_view action,
                                      size_t* which) const {
  for (const TrustRule& rule : rules_) {
    if (!rule.AppliesTo(action)) continue;
    for (size_t i = 0; i < refs.size(); ++i) {
      if (rule.MatchesImage(refs[i])) {
        if (which) *which = i;
        return &rule;
      }
    }
  }
  return nullptr;
}

}  // namespace crigate::policy
