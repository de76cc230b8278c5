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

#include "policy/base/files.h"
#include "policy/base/toml_fields.h"

namespace crigate::cloud {
namespace {

constexpr size_t kMinNodeKeyBytes = 16;

constexpr size_t kMaxNodeKeyBytes = 4096;

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
bool CheckUrl(base::TomlFields& f, std::string_view key, const std::string& url) {
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

void CheckReadableFile(base::TomlFields& f, std::string_view key, const std::string& path) {
  struct stat st {};
  const bool readable =
      ::stat(path.c_str(), &st) == 0 && (!S_ISREG(st.st_mode) || ::access(path.c_str(), R_OK) == 0);
  if (!readable) {
    f.Error(key, fmt::format("cannot read {}: {}", path, base::ErrnoText(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    f.Error(key, fmt::format("{} is not a regular file", path));
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
  base::SecretRules rules;
  rules.min_bytes = kMinNodeKeyBytes;
  rules.max_bytes = kMaxNodeKeyBytes;
  base::Result<base::Secret> key = base::ReadSecretFile(path, rules);
  if (key.ok()) key->TrimRight();
  if (key.ok() && key->bytes().size() < kMinNodeKeyBytes) {
    key =
        base::Status::InvalidArgument(path + " holds " + std::to_string(key->bytes().size()) +
                                      " bytes; a node key needs at least " +
                                      std::to_string(kMinNodeKeyBytes) + " (openssl rand -hex 32)");
  }
  if (!key.ok()) {
    error = key.error();
    return {};
  }
  error.clear();
  return key->bytes();
}

std::string FirstInterfaceMac(const std::string& sys_class_net) {
  base::Result<std::vector<std::string>> names = base::ListDirectory(sys_class_net);
  if (!names.ok()) return {};
  for (const std::string& name : *names) {
    if (name == "lo") continue;
    std::string path = sys_class_net;
    std::ifstream in(path.append("/").append(name).append("/address"));
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

  const toml::table* table = base::SectionOf(root, kCloudSection, errors);
  if (errors.size() != errors_before) return nullptr;

  base::TomlFields f(table, kCloudSection, errors);
  f.RejectUnknown({"enabled", "url", "events_url", "timeout_ms", "connect_timeout_ms", "ca_file",
                   "cert_file", "key_file", "node_key_file", "node_mac", "cache_ttl_ms",
                   "cache_size", "failure_mode_allow", "event_queue_size", "event_retry_max"});
  f.Bool("enabled", config->enabled);
  f.String("url", config->url, /*empty_ok=*/true);
  f.String("events_url", config->events_url, /*empty_ok=*/true);
  f.Millis("timeout_ms", 1, 60000, config->timeout);
  f.Millis("connect_timeout_ms", 1, 60000, config->connect_timeout);
  f.String("ca_file", config->ca_file, /*empty_ok=*/true);
  f.String("cert_file", config->cert_file, /*empty_ok=*/true);
  f.String("key_file", config->key_file, /*empty_ok=*/true);
  f.String("node_key_file", config->node_key_file, /*empty_ok=*/true);
  f.String("node_mac", config->node_mac, /*empty_ok=*/true);
  f.Millis("cache_ttl_ms", 0, 300000, config->cache_ttl);
  f.Size("cache_size", 0, 10000000, config->cache_size);
  f.Bool("failure_mode_allow", config->failure_mode_allow);
  f.Size("event_queue_size", 1, 1000000, config->event_queue_size);
  f.Int("event_retry_max", 0, 100, config->event_retry_max);
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
