#include "shim/runtime_spec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "policy/base/files.h"
#include "shim/hmac_sha256.h"

namespace crigate::shim {
namespace {

using nlohmann::json;

constexpr char kContainerTypeAnnotation[] = "io.kubernetes.cri.container-type";

// runc reads config.json with Go's encoding/json, which matches object keys
// to fields case-insensitively ("Hooks" fills hooks). Every lookup here does
// the same, so the checks and the digest see what runc will use; a spec
// whose keys are ambiguous under that folding, or not ASCII (Go also folds
// the Kelvin sign and the long s), is refused by ParseRuntimeSpec first.
bool SameKey(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

const json& Member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto exact = object.find(key);
  if (exact != object.end()) return *exact;
  for (const auto& [name, value] : object.items()) {
    if (SameKey(name, key)) return value;
  }
  return kNull;
}

// Copies from[key] into to[key] (the canonical name) when present and not null.
void Copy(const json& from, json& to, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const json& value = Member(from, key);
    if (!value.is_null()) to[key] = value;
  }
}

// Empty when every object key in `v` is ASCII and no two keys of one object
// fold to the same name; otherwise the offending key.
std::string AmbiguousKey(const json& v, int depth = 0) {
  if (depth > 64) return "(nested too deeply)";
  if (v.is_array()) {
    for (const json& item : v) {
      if (std::string bad = AmbiguousKey(item, depth + 1); !bad.empty()) return bad;
    }
    return {};
  }
  if (!v.is_object()) return {};
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : v.items()) {
    for (unsigned char c : name) {
      if (c >= 0x80) return name;
    }
    for (std::string_view other : seen) {
      if (SameKey(other, name)) return name;
    }
    seen.push_back(name);
    if (std::string bad = AmbiguousKey(value, depth + 1); !bad.empty()) return bad;
  }
  return {};
}

bool IsBind(const json& mount) {
  if (Member(mount, "type") == "bind") return true;
  const json& options = Member(mount, "options");
  if (!options.is_array()) return false;
  for (const json& o : options) {
    if (o == "bind" || o == "rbind") return true;
  }
  return false;
}

// An absolute path without ".", ".." or empty components, so that a prefix
// check on it means what it says.
bool IsCleanAbsolute(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view part(path.data() + start, end - start);
    if (part == "." || part == ".." || (part.empty() && end != path.size())) return false;
    start = end + 1;
  }
  return true;
}

std::string Strings(const json& array) {
  std::string out;
  if (!array.is_array()) return out;
  for (const json& v : array) {
    if (!out.empty()) out += ' ';
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

std::string CheckHooks(const json& spec) {
  const json& hooks = Member(spec, "hooks");
  if (hooks.is_null()) return {};
  if (!hooks.is_object()) return "hooks is not an object";
  for (const auto& [kind, list] : hooks.items()) {
    if (list.is_null() || (list.is_array() && list.empty())) continue;
    return "the spec carries OCI " + kind +
           " hooks, which run on the host (containerd's CRI never adds any)";
  }
  return {};
}

std::string CheckNamespaces(const json& spec, const ShapeRules& rules) {
  const json& namespaces = Member(Member(spec, "linux"), "namespaces");
  if (!namespaces.is_array()) return "linux.namespaces is missing";
  std::set<std::string> present;
  for (const json& ns : namespaces) {
    const json& type = Member(ns, "type");
    if (!type.is_string()) return "a linux.namespaces entry has no type";
    present.insert(type.get<std::string>());
    const json& path = Member(ns, "path");
    if (path.is_null() || path == "") continue;
    if (!path.is_string()) return "linux.namespaces " + type.get<std::string>() + " path";
    const std::string p = path.get<std::string>();
    bool network_ok = false;
    if (type == "network") {
      for (const std::string& prefix : rules.network_path_prefixes) {
        network_ok = network_ok || (p.rfind(prefix, 0) == 0 && IsCleanAbsolute(p));
      }
    }
    if (!network_ok && (rules.namespace_path_prefix.empty() ||
                        p.rfind(rules.namespace_path_prefix, 0) != 0 || !IsCleanAbsolute(p))) {
      return "the " + type.get<std::string>() + " namespace joins " + p +
             (rules.namespace_path_prefix.empty()
                  ? ", but this task must create its own"
                  : ", not one of the pod sandbox's (" + rules.namespace_path_prefix + "*)");
    }
  }
  for (const char* type : {"mount", "uts", "network", "pid", "ipc"}) {
    if (present.count(type) != 0) continue;
    // containerd leaves out "uts" together with a host network; "mount"
    // is never the host's.
    const std::string_view t(type);
    const char* decides = t == "uts" ? "network" : type;
    if (t != "mount" && rules.host_namespaces.count(decides) != 0) continue;
    return std::string("the spec shares the host's ") + type +
           " namespace (no linux.namespaces entry), which was not approved";
  }
  return {};
}

std::string CheckCapabilities(const json& spec, const ShapeRules& rules) {
  if (rules.privileged || rules.extra_capabilities.count("ALL") != 0) return {};
  const json& caps = Member(Member(spec, "process"), "capabilities");
  if (caps.is_null()) return {};
  for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
    const json& list = Member(caps, set);
    if (!list.is_array()) continue;
    for (const json& cap : list) {
      const std::string name = cap.is_string() ? cap.get<std::string>() : cap.dump();
      if (DefaultCapabilities().count(name) != 0 || rules.extra_capabilities.count(name) != 0) {
        continue;
      }
      return "process.capabilities." + std::string(set) + " holds " + name +
             ", which was not approved";
    }
  }
  return {};
}

std::string CheckMounts(const json& spec, const ShapeRules& rules) {
  static const std::set<std::string> kPseudo = {"proc",  "tmpfs",  "devpts", "mqueue",
                                                "sysfs", "cgroup", "cgroup2"};
  const json& mounts = Member(spec, "mounts");
  if (mounts.is_null()) return {};
  if (!mounts.is_array()) return "mounts is not a list";
  for (const json& m : mounts) {
    const std::string destination =
        Member(m, "destination").is_string() ? Member(m, "destination").get<std::string>() : "?";
    const json& source = Member(m, "source");
    if (IsBind(m)) {
      const std::string src = source.is_string() ? source.get<std::string>() : std::string();
      bool ok = IsCleanAbsolute(src) && rules.bind_sources.count(src) != 0;
      for (const std::string& prefix : rules.bind_prefixes) {
        ok = ok || (IsCleanAbsolute(src) && src.rfind(prefix, 0) == 0);
      }
      if (!ok) {
        std::string reason = "mount " + destination;
        return reason.append(" binds host path \"")
            .append(src)
            .append("\", which was not approved");
      }
      continue;
    }
    const json& type = Member(m, "type");
    if (!type.is_string() || kPseudo.count(type.get<std::string>()) == 0) {
      return "mount " + destination + " has type " +
             (type.is_string() ? type.get<std::string>() : std::string("(none)")) +
             ", not a kernel pseudo filesystem containerd mounts";
    }
  }
  return {};
}

std::string CheckDevices(const json& spec, const ShapeRules& rules) {
  if (rules.privileged) return {};
  const json& devices = Member(Member(spec, "linux"), "devices");
  if (!devices.is_array()) return {};
  for (const json& d : devices) {
    const json& path = Member(d, "path");
    const std::string p = path.is_string() ? path.get<std::string>() : std::string("?");
    if (rules.device_paths.count(p) == 0) {
      return "linux.devices holds " + p + ", which was not approved";
    }
  }
  return {};
}

}  // namespace

const std::set<std::string>& DefaultCapabilities() {
  static const std::set<std::string> kDefault = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return kDefault;
}

base::Status ParseRuntimeSpec(std::string_view text, json* spec) {
  if (text.size() > kMaxSpecBytes) {
    return Failed("runtime spec is over " + std::to_string(kMaxSpecBytes) + " bytes");
  }
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Failed("runtime spec is not a JSON object");
  }
  if (std::string bad = AmbiguousKey(parsed); !bad.empty()) {
    return Refused("runtime spec key \"" + bad +
                   "\" is not ASCII or repeats another key in another case, "
                   "which runc would read differently");
  }
  *spec = std::move(parsed);
  return base::Status::OK();
}

base::Status ReadRuntimeSpec(const std::string& path, json* spec) {
  base::ReadLimits limits;
  limits.max_bytes = kMaxSpecBytes;
  limits.follow_symlinks = false;
  base::Result<std::string> text = base::ReadBoundedFile(path, limits);
  if (!text.ok()) return Failed(text.error());
  base::Status s = ParseRuntimeSpec(*text, spec);
  if (!s.ok()) return Failed(path + ": " + s.message());
  return s;
}

// Copies the listed fields of spec[section], when it is an object, into
// bound[section]; returns that object, or null when there is no section.
static json* CopySection(const json& spec, json& bound, const char* section,
                         std::initializer_list<const char*> keys) {
  const json& from = Member(spec, section);
  if (!from.is_object()) return nullptr;
  json& to = bound[section] = json::object();
  Copy(from, to, keys);
  return &to;
}

std::string BoundSpec(const json& spec, std::string_view container_id) {
  json bound = json::object();
  bound["id"] = std::string(container_id);
  CopySection(spec, bound, "process",
              {"args", "commandLine", "env", "cwd", "user", "capabilities", "noNewPrivileges",
               "apparmorProfile", "selinuxLabel", "rlimits", "oomScoreAdj"});
  Copy(spec, bound, {"mounts", "hooks"});
  CopySection(spec, bound, "root", {"path", "readonly"});
  if (json* linux = CopySection(
          spec, bound, "linux",
          {"namespaces", "uidMappings", "gidMappings", "devices", "seccomp", "sysctl",
           "maskedPaths", "readonlyPaths", "mountLabel", "rootfsPropagation", "personality"})) {
    const json& devices = Member(Member(Member(spec, "linux"), "resources"), "devices");
    if (!devices.is_null()) (*linux)["resources"] = json{{"devices", devices}};
  }
  return bound.dump();  // std::map keys: sorted; no whitespace
}

std::string SpecDigest(const json& spec, std::string_view container_id) {
  unsigned char digest[kHmacSha256Bytes];
  if (!Sha256(BoundSpec(spec, container_id), digest)) return {};
  return "sha256:" + HexString(digest, sizeof(digest));
}

std::string SpecAnnotation(const json& spec, const char* name) {
  const json& value = Member(Member(spec, "annotations"), name);
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::string CriContainerType(const json& spec) {
  return SpecAnnotation(spec, kContainerTypeAnnotation);
}

std::string CheckSpecShape(const json& spec, const ShapeRules& rules) {
  if (std::string r = CheckHooks(spec); !r.empty()) return r;
  const json& root_path = Member(Member(spec, "root"), "path");
  if (root_path != "rootfs") {
    return "root.path is " + root_path.dump() + ", not the bundle's rootfs containerd always names";
  }
  if (rules.check_args) {
    const json& args = Member(Member(spec, "process"), "args");
    if (args != json(rules.args)) {
      return "process.args is \"" + Strings(args) + "\", not the approved \"" +
             Strings(json(rules.args)) + "\"";
    }
  }
  if (!Member(Member(spec, "process"), "commandLine").is_null()) {
    return "process.commandLine is set (Windows only)";
  }
  if (std::string r = CheckNamespaces(spec, rules); !r.empty()) return r;
  if (std::string r = CheckCapabilities(spec, rules); !r.empty()) return r;
  if (std::string r = CheckMounts(spec, rules); !r.empty()) return r;
  return CheckDevices(spec, rules);
}

}  // namespace crigate::shim
