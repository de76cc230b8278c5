#include "cri/daemon/config.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "policy/base/toml_fields.h"

namespace crigate::cri {
namespace {

// A config file is a few KiB; anything near this is the wrong file.
constexpr size_t kMaxConfigBytes = 1 << 20;

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
    if (s->empty() || s->size() > 4)
      mode = -1;
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

}  // namespace

std::optional<toml::table> LoadToml(const std::string& path, std::vector<std::string>* errors) {
  return base::LoadTomlFile(path, kMaxConfigBytes, *errors);
}

std::string StatusFileOf(const DaemonConfig& config) {
  if (!config.status_file.empty()) return config.status_file;
  const std::string& socket = config.socket.path;
  const size_t slash = socket.rfind('/');
  return (slash == std::string::npos ? std::string(".") : socket.substr(0, slash)) + "/status.json";
}

bool ParseDaemonConfig(const toml::table& root, DaemonConfig* out,
                       std::vector<std::string>* errors) {
  const size_t before = errors->size();

  base::TomlFields server(base::SectionOf(root, "server", *errors), "server", *errors);
  server.RejectUnknown({"socket", "socket_mode", "socket_owner", "socket_group", "drain_timeout_ms",
                        "decision_threads", "max_message_bytes", "front_end", "status_file"});
  std::string front_end;
  server.String("front_end", front_end);
  if (front_end == "grpc") {
    out->front_end = FrontEnd::kGrpc;
  } else if (!front_end.empty() && front_end != "relay") {
    server.Error("front_end", "must be \"relay\" (the event loop) or \"grpc\" (the grpc++ proxy)");
  }
  server.String("socket", out->socket.path);
  if (!out->socket.path.empty() && out->socket.path[0] != '/') {
    server.Error("socket", "must be an absolute path");
  }
  server.String("status_file", out->status_file);
  if (!out->status_file.empty() && out->status_file[0] != '/') {
    server.Error("status_file", "must be an absolute path");
  }
  std::string error;
  if (const toml::node* n = server.Get("socket_mode");
      n && !ParseMode(*n, &out->socket.mode, &error)) {
    server.Error("socket_mode", error);
  }
  if (const toml::node* n = server.Get("socket_owner");
      n && !ParseId(*n, false, &out->socket.owner, &error)) {
    server.Error("socket_owner", error);
  }
  if (const toml::node* n = server.Get("socket_group");
      n && !ParseId(*n, true, &out->socket.group, &error)) {
    server.Error("socket_group", error);
  }
  auto read_int = [&](std::string_view key, int64_t lo, int64_t hi, int* target) {
    int64_t value = *target;
    server.Int(key, lo, hi, value);
    *target = static_cast<int>(value);
  };
  read_int("drain_timeout_ms", 0, 600000, &out->drain_timeout_ms);
  read_int("decision_threads", 1, 256, &out->decision_threads);
  read_int("max_message_bytes", 4096, 256 << 20, &out->max_message_bytes);

  base::TomlFields backend(base::SectionOf(root, "backend", *errors), "backend", *errors);
  backend.RejectUnknown({"endpoint"});
  backend.String("endpoint", out->backend_endpoint);
  if (out->backend_endpoint.rfind("unix:", 0) != 0) {
    backend.Error(
        "endpoint",
        "must be a unix socket address such as \"unix:///run/containerd/containerd.sock\"");
  }

  base::TomlFields logs(base::SectionOf(root, "log", *errors), "log", *errors);
  logs.RejectUnknown({"level", "format"});
  std::string level;
  logs.String("level", level);
  if (!level.empty() && !log::ParseLevel(level, &out->log_level)) {
    logs.Error("level", "must be one of debug, info, warn, error");
  }
  std::string format;
  logs.String("format", format);
  if (!format.empty() && !log::ParseFormat(format, &out->log_format)) {
    logs.Error("format", "must be text or json");
  }
  return errors->size() == before;
}

}  // namespace crigate::cri
