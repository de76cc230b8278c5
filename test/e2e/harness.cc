#include "test/e2e/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace crigate::test {
namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Connectable(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string CrigateBinary() { return Env("CRIGATE_BIN", CRIGATE_BIN_DEFAULT); }

std::string ContainerdSocket() {
  return Env("CRIGATE_CONTAINERD_SOCK", Env("CRIGATE_RUN_DIR", "/tmp/crigate-run") +
                                            "/containerd.sock");
}

std::string ScratchDir() {
  std::string base = Env("CRIGATE_RUN_DIR", "/tmp/crigate-run") + "/e2e";
  mkdir(base.c_str(), 0755);
  chmod(base.c_str(), 0755);
  std::string tmpl = base + "/t-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "/tmp";
  chmod(buf.data(), 0755);  // tests connect as other users too
  return buf.data();
}

CrigateProcess::CrigateProcess(const Options& options) {
  dir_ = ScratchDir();
  socket_ = dir_ + "/crigate.sock";
  config_path_ = dir_ + "/config.toml";
  log_path_ = dir_ + "/crigate.log";
  audit_path_ = dir_ + "/audit.jsonl";
  std::string backend =
      options.backend_socket.empty() ? ContainerdSocket() : options.backend_socket;
  std::ofstream(config_path_) << "[server]\nsocket = \"" << socket_ << "\"\n"
                              << options.server_extra << "\n"
                              << "[backend]\nendpoint = \"unix://" << backend << "\"\n"
                              << (options.monitor ? "" : "[monitor]\nenabled = false\n")
                              << "[audit]\npath = \"" << audit_path_ << "\"\n"
                              << options.policy << "\n"
                              << options.body;
  Spawn();
}

CrigateProcess::~CrigateProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void CrigateProcess::Spawn() {
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, STDERR_FILENO);
    dup2(log, STDOUT_FILENO);
    std::string bin = CrigateBinary();
    execl(bin.c_str(), bin.c_str(), "--config", config_path_.c_str(), nullptr);
    _exit(127);
  }
}

void CrigateProcess::Restart() {
  if (pid_ > 0) Stop();
  Spawn();
}

bool CrigateProcess::WaitReady() {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    if (Connectable(socket_)) return true;
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int CrigateProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = -1;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string CrigateProcess::Log() const { return ReadFile(log_path_); }
std::string CrigateProcess::Audit() const { return ReadFile(audit_path_); }

std::pair<int, std::string> RunCrigateOnce(const std::string& config_path,
                                           const std::string& extra_arg) {
  std::string out = config_path + ".stderr";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    std::string bin = CrigateBinary();
    if (extra_arg.empty()) {
      execl(bin.c_str(), bin.c_str(), "--config", config_path.c_str(), nullptr);
    } else {
      execl(bin.c_str(), bin.c_str(), "--config", config_path.c_str(), extra_arg.c_str(), nullptr);
    }
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, ReadFile(out)};
}

std::pair<int, std::string> ProbeAs(uid_t uid, gid_t gid, const std::string& socket,
                                    const std::string& verb, const std::string& arg) {
  std::string probe = Env("CRIGATE_PROBE", CRIGATE_PROBE_DEFAULT);
  std::string command = probe + " --socket '" + socket + "' --uid " + std::to_string(uid) +
                        " --gid " + std::to_string(gid) + " " + verb;
  if (!arg.empty()) command += " '" + arg + "'";
  FILE* out = popen(command.c_str(), "r");
  if (!out) return {-1, "popen failed"};
  char line[4096] = {0};
  bool got = fgets(line, sizeof(line), out) != nullptr;
  int rc = pclose(out);
  if (!got || rc != 0) return {-1, "cri_probe failed: " + command};
  std::string text(line);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  size_t space = text.find(' ');
  return {std::stoi(text.substr(0, space)), space == std::string::npos ? "" : text.substr(space + 1)};
}

AuthzProcess::AuthzProcess(const Options& options) : log_path_(options.log_path) {
  // This file sits in test/e2e/; the authorizer in test/authz/.
  std::string here = __FILE__;
  std::string script = here.substr(0, here.rfind("/e2e/")) + "/authz/crigate-authz.py";
  script = Env("CRIGATE_AUTHZ", script);
  port_file_ = log_path_ + ".port";
  unlink(port_file_.c_str());
  std::vector<std::string> args = {"python3", script, "--port", "0", "--port-file", port_file_};
  if (!options.rules.empty()) args.insert(args.end(), {"--rules", options.rules});
  if (!options.node_key.empty()) args.insert(args.end(), {"--node-key", options.node_key});
  if (!options.events.empty()) args.insert(args.end(), {"--events", options.events});
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, STDERR_FILENO);
    dup2(log, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
}

AuthzProcess::~AuthzProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool AuthzProcess::WaitReady() {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < until) {
    std::string text = ReadFile(port_file_);
    if (!text.empty()) {
      port_ = std::atoi(text.c_str());
      return port_ > 0;
    }
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string AuthzProcess::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string AuthzProcess::Log() const { return ReadFile(log_path_); }

int UnusedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace crigate::test
