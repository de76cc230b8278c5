#include "cri/daemon_config.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>


namespace crigate::cri {
namespace {

// A user or group given by name or number.
template <typename Id>
bool ParseId(const toml::node& node, bool is_group, Id* out, std::string* error) {
  if (auto n = node.value<int64_t>()) {
    if (*n < 0 || *n > 0x7fffffff) {
      *error = "must be a non-negative id";
      return false;
    }
    *out = static_cast<Id>(*n);
    return true;
  }
  auto name = node.value<std::string>();
  if (!name) {
    *error = "must be a name or a numeric id";
    return false;
  }
  char buffer[16384];
  if (is_group) {
    group gr{}, *found = nullptr;
    if (getgrnam_r(name->c_str(), &gr, buffer, sizeof(buffer), &found) != 0 || !found) {
      *error = "no group named '" + *name + "'";
      return false;
    }
    *out = static_cast<Id>(found->gr_gid);
  } else {
    passwd pw{}, *found = nullptr;
    if (getpwnam_r(name->c_str(), &pw, buffer, sizeof(buffer), &found) != 0 || !found) {
      *error = "no user named '" + *name + "'";
      return false;
    }
    *out = static_cast<Id>(found->pw_uid);
  }
  return true;
}

bool ParseMode(const toml::node& node, mode_t* out, std::string* error) {
  int64_t mode = -1;
  if (auto n = node.value<int64_t>()) {
    mode = *n;  // TOML 0o660
  } else if (auto s = node.value<std::string>()) {
    if (s->empty() || s->size() > 4) mode = -1;
    else {
      mode = 0;
      for (char c : *s) {
        if (c < '0' || c > '7') {
          mode = -1;
          break;
        }
        mode = mode * 8 + (c - '0');
      }
    }
  }
  if (mode < 0 || mode > 0777) {
    *error = "must be an octal permission such as \"0660\" or 0o660";
    return false;
  }
  *out = static_cast<mode_t>(mode);
  return true;
}

bool ReadInt(const toml::table& t, std::string_view section, std::string_view key, int64_t lo,
             int64_t hi, int* out, std::vector<std::string>* errors) {
  const toml::node* node = t.get(key);
  if (!node) return true;
  auto v = node->value<int64_t>();
  if (!v || *v < lo || *v > hi) {
    errors->push_back(fmt::format("{}.{}: must be an integer from {} to {}", section, key, lo, hi));
    return false;
  }
  *out = static_cast<int>(*v);
  return true;
}

bool ReadString(const toml::table& t, std::string_view section, std::string_view key,
                std::string* out, std::vector<std::string>* errors) {
  const toml::node* node = t.get(key);
  if (!node) return true;
  auto v = node->value<std::string>();
  if (!v || v->empty()) {
    errors->push_back(fmt::format("{}.{}: must be a non-empty string", section, key));
    return false;
  }
  *out = *v;
  return true;
}

const toml::table* Section(const toml::table& root, std::string_view name,
                           std::vector<std::string>* errors) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) {
    errors->push_back(fmt::format("{}: must be a table ([{}])", name, name));
    return nullptr;
  }
  return node->as_table();
}

}  // namespace

std::optional<toml::table> LoadToml(const std::string& path, std::vector<std::string>* errors) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (where.line == 0) {
      errors->push_back(fmt::format("{}: {}", path, e.description()));
    } else {
      errors->push_back(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
    }
  } catch (const std::exception& e) {
    errors->push_back(fmt::format("{}: {}", path, e.what()));
  }
  return std::nullopt;
}

void RejectUnknownKeys(const toml::table& root, std::string_view section,
                       const std::set<std::string_view>& known, std::vector<std::string>* errors) {
  const toml::node* node = root.get(section);
  if (!node || !node->is_table()) return;
  for (const auto& [key, value] : *node->as_table()) {
    if (!known.count(key.str())) {
      errors->push_back(fmt::format("{}.{}: unknown key", section, key.str()));
    }
  }
}

bool ParseDaemonConfig(const toml::table& root, DaemonConfig* out,
                       std::vector<std::string>* errors) {
  const size_t before = errors->size();

  RejectUnknownKeys(root, "server",
                    {"socket", "socket_mode", "socket_owner", "socket_group", "drain_timeout_ms",
                     "decision_threads", "max_message_bytes"},
                    errors);
  if (const toml::table* server = Section(root, "server", errors)) {
    ReadString(*server, "server", "socket", &out->socket.path, errors);
    if (!out->socket.path.empty() && out->socket.path[0] != '/') {
      errors->push_back("server.socket: must be an absolute path");
    }
    std::string error;
    if (const toml::node* n = server->get("socket_mode"); n && !ParseMode(*n, &out->socket.mode, &error)) {
      errors->push_back("server.socket_mode: " + error);
    }
    if (const toml::node* n = server->get("socket_owner"); n && !ParseId(*n, false, &out->socket.owner, &error)) {
      errors->push_back("server.socket_owner: " + error);
    }
    if (const toml::node* n = server->get("socket_group"); n && !ParseId(*n, true, &out->socket.group, &error)) {
      errors->push_back("server.socket_group: " + error);
    }
    ReadInt(*server, "server", "drain_timeout_ms", 0, 600000, &out->drain_timeout_ms, errors);
    ReadInt(*server, "server", "decision_threads", 1, 256, &out->decision_threads, errors);
    ReadInt(*server, "server", "max_message_bytes", 4096, 1 << 30, &out->max_message_bytes, errors);
  }

  RejectUnknownKeys(root, "backend", {"endpoint"}, errors);
  if (const toml::table* backend = Section(root, "backend", errors)) {
    if (ReadString(*backend, "backend", "endpoint", &out->backend_endpoint, errors)) {
      const std::string& e = out->backend_endpoint;
      if (e.rfind("unix://", 0) != 0 && e.rfind("unix:", 0) != 0) {
        errors->push_back("backend.endpoint: must be a unix socket address such as "
                          "\"unix:///run/containerd/containerd.sock\"");
      }
    }
  }

  RejectUnknownKeys(root, "log", {"level"}, errors);
  if (const toml::table* logs = Section(root, "log", errors)) {
    std::string level;
    if (ReadString(*logs, "log", "level", &level, errors) && !level.empty() &&
        !log::ParseLevel(level, &out->log_level)) {
      errors->push_back("log.level: must be one of debug, info, warn, error");
    }
  }

  return errors->size() == before;
}

}  // namespace crigate::cri
