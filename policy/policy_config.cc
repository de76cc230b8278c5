#include "policy/policy_config.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "policy/actions.h"
#include "policy/base/toml_fields.h"
#include "policy/image_ref.h"

namespace crigate::policy {
namespace {

constexpr int64_t kMaxId = 0x7fffffff;

// A list of ids given as numbers or names, names resolved now.
template <typename Id>
void ReadIds(base::TomlFields& f, std::string_view key, bool groups, std::set<Id>& out,
             std::vector<std::string>& errors) {
  const toml::node* node = f.Get(key);
  if (!node) return;
  const toml::array* list = node->as_array();
  if (!list) {
    f.Error(key, groups ? "must be a list of group names or gids"
                        : "must be a list of user names or uids");
    return;
  }
  std::set<Id> ids;
  const size_t before = errors.size();
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = (*list)[i];
    auto error = [&](const std::string& message) {
      errors.push_back(fmt::format("{}[{}]: {}", f.Name(key), i, message));
    };
    if (auto n = item.value_exact<int64_t>()) {
      if (*n < 0 || *n > kMaxId) {
        error("must be a non-negative id");
        continue;
      }
      ids.insert(static_cast<Id>(*n));
      continue;
    }
    auto name = item.value_exact<std::string>();
    if (!name || name->empty()) {
      error("must be a name or a numeric id");
      continue;
    }
    char buffer[16384];
    if (groups) {
      group entry{}, *found = nullptr;
      if (getgrnam_r(name->c_str(), &entry, buffer, sizeof(buffer), &found) != 0 || !found) {
        error(fmt::format("no group named '{}'", *name));
        continue;
      }
      ids.insert(static_cast<Id>(found->gr_gid));
    } else {
      passwd entry{}, *found = nullptr;
      if (getpwnam_r(name->c_str(), &entry, buffer, sizeof(buffer), &found) != 0 || !found) {
        error(fmt::format("no user named '{}'", *name));
        continue;
      }
      ids.insert(static_cast<Id>(found->pw_uid));
    }
  }
  if (errors.size() == before) out = std::move(ids);
}

}  // namespace

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

const std::set<std::string_view>& PolicySections() {
  static const std::set<std::string_view> kSections = {"gate",  "privilege", "trust", "token",
                                                       "audit", "node",      "cloud"};
  return kSections;
}

MethodClass PolicyConfig::ClassOf(CriService service, std::string_view method) const {
  // What the table does not know is mutating: the privilege stage at least.
  if (!IsKnownMethod(service, method)) return MethodClass::kMutating;
  if (IsReadOnlyAction(method)) {
    return gate.read_only_open ? MethodClass::kReadOnly : MethodClass::kMutating;
  }
  return gate.methods.count(std::string(method)) ? MethodClass::kGated : MethodClass::kMutating;
}

std::shared_ptr<const PolicyConfig> ParsePolicyConfig(const toml::table& root,
                                                      std::vector<std::string>& errors) {
  const size_t before = errors.size();
  auto config = std::make_shared<PolicyConfig>();
  config->gate.methods = DefaultGatedActions();
  config->token.required_for = DefaultTokenRequiredActions();
  config->audit.path = "/var/log/crigate/audit.jsonl";
  config->node_id = HostName();

  {
    base::TomlFields f(base::SectionOf(root, "gate", errors), "gate", errors);
    f.RejectUnknown({"methods", "read_only_open"});
    f.NameSet("methods", GatableActions(), config->gate.methods);
    config->gate.methods = ExpandFamilies(std::move(config->gate.methods));
    f.Bool("read_only_open", config->gate.read_only_open);
  }
  {
    base::TomlFields f(base::SectionOf(root, "privilege", errors), "privilege", errors);
    f.RejectUnknown({"enabled", "super_uids", "super_groups"});
    f.Bool("enabled", config->privilege.enabled);
    ReadIds(f, "super_uids", false, config->privilege.super_uids, errors);
    ReadIds(f, "super_groups", true, config->privilege.super_gids, errors);
  }
  {
    base::TomlFields f(base::SectionOf(root, "node", errors), "node", errors);
    f.RejectUnknown({"id"});
    f.String("id", config->node_id);
    if (config->node_id.empty()) f.Error("id", "not set, and the host name cannot be read");
  }
  {
    base::TomlFields f(base::SectionOf(root, "trust", errors), "trust", errors);
    f.RejectUnknown({"enabled", "store", "sandbox_image", "kubelet_root"});
    PolicyConfig::Trust& t = config->trust;
    f.Bool("enabled", t.enabled);
    f.String("store", t.store);
    f.String("kubelet_root", t.kubelet_root);
    if (t.kubelet_root.empty() || t.kubelet_root[0] != '/') {
      f.Error("kubelet_root", "must be an absolute path");
    }
    while (t.kubelet_root.size() > 1 && t.kubelet_root.back() == '/') t.kubelet_root.pop_back();
    f.String("sandbox_image", t.sandbox_image);
    Result<ImageRef> sandbox = ParseImageRef(t.sandbox_image);
    if (!sandbox.ok()) {
      f.Error("sandbox_image", sandbox.error());
    } else if (sandbox->is_id) {
      f.Error("sandbox_image", "must be an image name, as containerd's sandbox_image is");
    } else {
      t.sandbox_image = sandbox->String();
    }
    if (t.enabled) {
      std::vector<std::string> problems;
      t.loaded = TrustStore::Load(t.store, problems);
      for (const auto& p : problems) f.Error("store", p);
    }
  }
  {
    base::TomlFields f(base::SectionOf(root, "token", errors), "token", errors);
    f.RejectUnknown({"enabled", "keys", "required_for", "max_ttl", "replay_cache_size",
                     "clock_skew", "use_store", "grant_dir"});
    PolicyConfig::Token& t = config->token;
    f.Bool("enabled", t.enabled);
    f.StringList("keys", t.keys);
    f.String("use_store", t.use_store, /*empty_ok=*/true);
    if (!t.use_store.empty() && t.use_store[0] != '/') {
      f.Error("use_store", "must be an absolute path (or \"\" to keep token uses in memory only)");
    }
    f.String("grant_dir", t.grant_dir, /*empty_ok=*/true);
    if (!t.grant_dir.empty() && t.grant_dir[0] != '/') {
      f.Error("grant_dir", "must be an absolute path (or \"\" to keep kept tokens in memory only)");
    }
    f.NameSet("required_for", GatableActions(), t.required_for);
    f.Duration("max_ttl", std::chrono::seconds(1), std::chrono::hours(24 * 30), t.max_ttl);
    f.Duration("clock_skew", std::chrono::seconds(0), std::chrono::hours(1), t.clock_skew);
    int64_t replay = static_cast<int64_t>(t.replay_cache_size);
    f.Int("replay_cache_size", 1, 10'000'000, replay);
    t.replay_cache_size = static_cast<size_t>(replay);
    for (const auto& action : t.required_for) {
      if (!config->gate.methods.count(action)) {
        f.Error("required_for", fmt::format("'{}' is not in gate.methods, so no call of it ever "
                                            "reaches the token stage",
                                            action));
      }
    }
    if (t.enabled) {
      std::vector<std::string> problems;
      t.loaded = KeySet::Load(t.keys, problems);
      for (const auto& p : problems) errors.push_back("token." + p);
    }
  }
  {
    base::TomlFields f(base::SectionOf(root, "audit", errors), "audit", errors);
    f.RejectUnknown({"path", "max_bytes", "keep", "fsync"});
    AuditOptions& a = config->audit;
    f.String("path", a.path);
    if (a.path.empty() || a.path[0] != '/') f.Error("path", "must be an absolute path");
    int64_t max_bytes = static_cast<int64_t>(a.max_bytes);
    f.Int("max_bytes", 0, int64_t{1} << 40, max_bytes);
    if (max_bytes != 0 && max_bytes < 4096) {
      f.Error("max_bytes", "must be 0 (never rotate) or at least 4096");
    }
    a.max_bytes = static_cast<uint64_t>(max_bytes);
    int64_t keep = a.keep;
    f.Int("keep", 1, 1000, keep);
    a.keep = static_cast<int>(keep);
    f.Bool("fsync", a.fsync);
  }
  ParseCloudSection(root, *config, errors);
  if (errors.size() != before) return nullptr;
  return config;
}

}  // namespace crigate::policy
