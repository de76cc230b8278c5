#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "policy/base/files.h"
#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud::testing {
namespace {

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/crigate-cloud-test-XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  path_ = made ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content, int mode) const {
  const std::string path = File(name);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

AuthzProcess::AuthzProcess(std::vector<std::string> extra_args, bool https) : https_(https) {
  const std::string port_file = dir_.File("port");
  const std::string log_file = dir_.File("authz.log");
  std::vector<std::string> args = {CRIGATE_PYTHON3, "-u",     CRIGATE_AUTHZ_SCRIPT, "--port", "0",
                                   "--port-file",   port_file};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid_ < 0) {
    error_ = fmt::format("fork: {}", base::ErrnoText(errno));
    return;
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    const std::string port = ReadAll(port_file);
    if (!port.empty()) {
      port_ = static_cast<uint16_t>(std::stoi(port));
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = fmt::format("crigate-authz.py exited: {}", ReadAll(log_file));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  error_ = fmt::format("crigate-authz.py did not start within 10 s: {}", ReadAll(log_file));
}

AuthzProcess::~AuthzProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string AuthzProcess::Url(const std::string& path) const {
  return fmt::format("{}://{}:{}{}", https_ ? "https" : "http", https_ ? "localhost" : "127.0.0.1",
                     port_, path);
}

AuthzStats AuthzProcess::Stats(const std::string& ca, const std::string& cert,
                               const std::string& key) const {
  AuthzStats stats;
  CURL* h = curl_easy_init();
  if (!h) return stats;
  std::string body;
  const std::string url = Url("/v1/stats");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  if (!ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
  if (!cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, key.c_str());
  }
  if (curl_easy_perform(h) == CURLE_OK) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_object()) {
      stats.decisions = doc.value("decisions", -1);
      stats.events = doc.value("events", -1);
      stats.rejected = doc.value("rejected", -1);
    }
  }
  curl_easy_cleanup(h);
  return stats;
}

bool MakeCerts(const std::string& dir, std::string& error) {
  const std::string command = fmt::format("bash '{}' '{}' 2>&1", CRIGATE_MAKE_CERTS, dir);
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) {
    error = "popen failed";
    return false;
  }
  std::string output;
  char buf[256];
  while (size_t n = ::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = ::pclose(p);
  if (status != 0) {
    error = output;
    return false;
  }
  return true;
}

}  // namespace crigate::cloud::testing
