#include "policy/cloud/cloud_config.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

namespace crigate::cloud {
namespace {

constexpr size_t kMinNodeKeyBytes = 16;

// strerror is not thread-safe; a reload may run beside the daemon's threads.
std::string ErrnoText() { return std::error_code(errno, std::generic_category()).message(); }
constexpr size_t kMaxNodeKeyBytes = 4096;

// Reads [cloud] key by key; an error per bad key, named in full.
class Fields {
 public:
  Fields(const toml::table* table, std::vector<std::string>& errors)
      : table_(table), errors_(errors) {}

  void Error(std::string_view key, std::string_view message) {
    errors_.push_back(fmt::format("{}.{}: {}", kCloudSection, key, message));
  }
  const toml::node* Get(std::string_view key) const { return table_ ? table_->get(key) : nullptr; }

  void Bool(std::string_view key, bool& out) {
    const toml::node* node = Get(key);
    if (!node) return;
    if (auto v = node->value_exact<bool>()) {
      out = *v;
    } else {
      Error(key, "must be true or false");
    }
  }

  void Int(std::string_view key, int64_t lo, int64_t hi, int64_t& out) {
    const toml::node* node = Get(key);
    if (!node) return;
    auto v = node->value_exact<int64_t>();
    if (!v || *v < lo || *v > hi) {
      Error(key, fmt::format("must be between {} and {}", lo, hi));
      return;
    }
    out = *v;
  }

  void Millis(std::string_view key, int64_t lo, int64_t hi, std::chrono::milliseconds& out) {
    int64_t v = out.count();
    Int(key, lo, hi, v);
    out = std::chrono::milliseconds(v);
  }

  void Size(std::string_view key, int64_t lo, int64_t hi, size_t& out) {
    int64_t v = static_cast<int64_t>(out);
    Int(key, lo, hi, v);
    out = static_cast<size_t>(v);
  }

  void String(std::string_view key, std::string& out) {
    const toml::node* node = Get(key);
    if (!node) return;
    if (auto v = node->value_exact<std::string>()) {
      out = *v;
    } else {
      Error(key, "must be a string");
    }
  }

  void RejectUnknown(const std::set<std::string_view>& known) {
    if (!table_) return;
    for (const auto& [key, value] : *table_) {
      if (!known.count(key.str())) Error(key.str(), "unknown key");
    }
  }

 private:
  const toml::table* const table_;
  std::vector<std::string>& errors_;
};

struct ParsedUrl {
  std::string scheme;
  std::string host;
};

// Empty scheme when the URL does not parse.
ParsedUrl ParseUrl(const std::string& url) {
  ParsedUrl out;
  CURLU* h = curl_url();
  if (!h) return out;
  if (curl_url_set(h, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      out.scheme = scheme;
      out.host = host;
    }
    curl_free(scheme);
    curl_free(host);
  }
  curl_url_cleanup(h);
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// Checks one endpoint URL; true when it is https.
bool CheckUrl(Fields& f, std::string_view key, const std::string& url) {
  ParsedUrl parsed = ParseUrl(url);
  if (parsed.scheme.empty() || parsed.host.empty()) {
    f.Error(key, fmt::format("\"{}\" is not a URL", url));
    return false;
  }
  if (parsed.scheme == "https") return true;
  if (parsed.scheme != "http") {
    f.Error(key, fmt::format("scheme must be https (or http to a loopback address), not {}",
                             parsed.scheme));
  } else if (!IsLoopbackHost(parsed.host)) {
    f.Error(key, fmt::format("plain http is allowed only to a loopback address, not {}; use https",
                             parsed.host));
  }
  return false;
}

void CheckReadableFile(Fields& f, std::string_view key, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    f.Error(key, fmt::format("cannot read {}: {}", path, ErrnoText()));
  } else if (!S_ISREG(st.st_mode)) {
    f.Error(key, fmt::format("{} is not a regular file", path));
  } else if (::access(path.c_str(), R_OK) != 0) {
    f.Error(key, fmt::format("cannot read {}: {}", path, ErrnoText()));
  }
}

std::string TrimRight(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

std::string ReadNodeKey(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = fmt::format("cannot read {}: {}", path, ErrnoText());
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    error = fmt::format("{} is not a regular file", path);
    return {};
  }
  if ((st.st_mode & 077) != 0) {
    error = fmt::format("{} is readable or writable by group or others (mode {:04o}); chmod 600 it",
                        path, st.st_mode & 07777);
    return {};
  }
  if (st.st_size > static_cast<off_t>(kMaxNodeKeyBytes)) {
    error = fmt::format("{} is larger than {} bytes; not a node key", path, kMaxNodeKeyBytes);
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) {
    error = fmt::format("cannot read {}", path);
    return {};
  }
  std::string key = TrimRight(content.str());
  if (key.size() < kMinNodeKeyBytes) {
    error = fmt::format("{} holds {} bytes; a node key needs at least {} (openssl rand -hex 32)",
                        path, key.size(), kMinNodeKeyBytes);
    return {};
  }
  error.clear();
  return key;
}

std::string FirstInterfaceMac(const std::string& sys_class_net) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(sys_class_net.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != ".." && name != "lo") names.push_back(std::move(name));
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::ifstream in(sys_class_net + "/" + name + "/address");
    std::string mac;
    if (!std::getline(in, mac)) continue;
    mac = TrimRight(mac);
    if (mac.empty() || mac.find_first_not_of("0:") == std::string::npos) continue;
    return mac;
  }
  return {};
}

namespace {

std::shared_ptr<const CloudConfig> Parse(const toml::table& root,
                                         std::vector<std::string>& errors) {
  const size_t errors_before = errors.size();
  auto config = std::make_shared<CloudConfig>();

  const toml::table* table = nullptr;
  if (const toml::node* node = root.get(kCloudSection)) {
    table = node->as_table();
    if (!table) {
      errors.push_back(fmt::format("{}: must be a table", kCloudSection));
      return nullptr;
    }
  }

  Fields f(table, errors);
  f.RejectUnknown({"enabled", "url", "events_url", "timeout_ms", "connect_timeout_ms", "ca_file",
                   "cert_file", "key_file", "node_key_file", "node_mac", "cache_ttl_ms",
                   "cache_size", "failure_mode_allow", "event_queue_size", "event_retry_max"});
  f.Bool("enabled", config->enabled);
  f.String("url", config->url);
  f.String("events_url", config->events_url);
  f.Millis("timeout_ms", 1, 60000, config->timeout);
  f.Millis("connect_timeout_ms", 1, 60000, config->connect_timeout);
  f.String("ca_file", config->ca_file);
  f.String("cert_file", config->cert_file);
  f.String("key_file", config->key_file);
  f.String("node_key_file", config->node_key_file);
  f.String("node_mac", config->node_mac);
  f.Millis("cache_ttl_ms", 0, 300000, config->cache_ttl);
  f.Size("cache_size", 0, 10000000, config->cache_size);
  f.Bool("failure_mode_allow", config->failure_mode_allow);
  f.Size("event_queue_size", 1, 1000000, config->event_queue_size);
  int64_t retry_max = config->event_retry_max;
  f.Int("event_retry_max", 0, 100, retry_max);
  config->event_retry_max = static_cast<int>(retry_max);
  config->connect_timeout = std::min(config->connect_timeout, config->timeout);

  if (config->enabled) {
    bool https = false;
    if (config->url.empty()) {
      f.Error("url", "required when cloud.enabled is true");
    } else {
      https = CheckUrl(f, "url", config->url);
    }
    if (!config->events_url.empty()) https = CheckUrl(f, "events_url", config->events_url) || https;

    if (config->cert_file.empty() != config->key_file.empty()) {
      f.Error(config->cert_file.empty() ? "cert_file" : "key_file",
              "cert_file and key_file go together (mTLS)");
    }
    const std::pair<std::string_view, const std::string*> tls_files[] = {
        {"ca_file", &config->ca_file},
        {"cert_file", &config->cert_file},
        {"key_file", &config->key_file}};
    for (const auto& [key, path] : tls_files) {
      if (path->empty()) continue;
      if (!https) {
        f.Error(key, "set, but no cloud URL is https");
        continue;
      }
      CheckReadableFile(f, key, *path);
    }

    if (config->node_key_file.empty()) {
      f.Error("node_key_file", "must be set: every request is signed with the node key");
    } else {
      std::string error;
      config->node_key = ReadNodeKey(config->node_key_file, error);
      if (!error.empty()) f.Error("node_key_file", error);
    }
    if (!f.Get("node_mac")) config->node_mac = FirstInterfaceMac();
  }

  if (errors.size() != errors_before) return nullptr;
  return config;
}

}  // namespace

std::shared_ptr<const CloudConfig> ParseCloudConfig(const toml::table& root,
                                                    std::vector<std::string>& errors) {
  try {
    return Parse(root, errors);
  } catch (const std::exception& e) {
    errors.push_back(fmt::format("{}: {}", kCloudSection, e.what()));
    return nullptr;
  }
}

}  // namespace crigate::cloud
