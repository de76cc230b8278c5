#include "test/e2e/harness.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
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

#include "cri_subset.grpc.pb.h"
#include "test/cri_client.h"

namespace crigate::test {
namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
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

std::string RegistryHost() { return "localhost:" + Env("CRIGATE_REGISTRY_PORT", "5000"); }

std::string RegistryBusybox() { return RegistryHost() + "/crigate/busybox:1.35"; }

pid_t SpawnChild(const std::vector<std::string>& argv, const std::string& out_path,
                 const std::string& err_path) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int err =
      err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (std::string& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

::testing::AssertionResult ContainerdIsUp() {
  struct stat st;
  if (stat(ContainerdSocket().c_str(), &st) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "containerd is not running at " << ContainerdSocket()
         << ": start it with scripts/containerd-up.sh (scripts/test.sh does)";
}

std::string CrigateBinary() { return Env("CRIGATE_BIN", CRIGATE_BIN_DEFAULT); }

std::string ContainerdSocket() {
  return Env("CRIGATE_CONTAINERD_SOCK",
             Env("CRIGATE_RUN_DIR", "/tmp/crigate-run") + "/containerd.sock");
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
  audit_path_ = options.audit_path.empty() ? dir_ + "/audit.jsonl" : options.audit_path;
  std::string backend =
      options.backend_socket.empty() ? ContainerdSocket() : options.backend_socket;
  // Token uses and kept tokens live in the test's own directory, unless the
  // test names them.
  std::string policy = options.policy, body = options.body;
  const std::string token_files = "[token]\nuse_store = \"" + dir_ +
                                  "/token-uses\"\ngrant_dir = \"" + dir_ + "/token-grants\"\n";
  for (std::string* text : {&policy, &body}) {
    size_t at = text->find("[token]\n");
    if (at != std::string::npos && text->find("use_store") == std::string::npos) {
      text->replace(at, 8, token_files);
    }
  }
  std::ofstream(config_path_) << "[server]\nsocket = \"" << socket_ << "\"\n"
                              << options.server_extra << "\n"
                              << "[backend]\nendpoint = \"unix://" << backend << "\"\n"
                              << (options.monitor ? "" : "[monitor]\nenabled = false\n")
                              << "[audit]\npath = \"" << audit_path_ << "\"\n"
                              << policy << "\n"
                              << body;
  Spawn();
}

CrigateProcess::~CrigateProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void CrigateProcess::Spawn() {
  // A test run that is killed (a timeout) takes its crigate with it: a
  // stray one would hold sockets, sessions and client ids the next run uses.
  pid_ = SpawnChild({CrigateBinary(), "--config", config_path_}, log_path_, log_path_);
}

void CrigateProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
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

int CrigateProcess::StopWithin(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = -1;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      Kill();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
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

std::pair<int, std::string> ProbeRawAs(uid_t uid, gid_t gid, const std::string& socket,
                                       const std::string& path, const std::string& request) {
  std::string hex;
  for (unsigned char c : request) hex += fmt::format("{:02x}", c);
  return ProbeAs(uid, gid, socket, "raw", path + "' '" + hex);
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
  return {std::stoi(text.substr(0, space)),
          space == std::string::npos ? "" : text.substr(space + 1)};
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
  pid_ = SpawnChild(args, log_path_, log_path_);
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << text;
  chmod(tmp.c_str(), mode);
  rename(tmp.c_str(), path.c_str());
}

Ran RunProgram(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  char out_tmpl[] = "/tmp/pe-out-XXXXXX";
  char err_tmpl[] = "/tmp/pe-err-XXXXXX";
  int out_fd = mkstemp(out_tmpl), err_fd = mkstemp(err_tmpl);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  Ran ran;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status != -1) ran.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ran.out = ReadFile(out_tmpl);
  ran.err = ReadFile(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return ran;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<nlohmann::json> AuditRecords(const CrigateProcess& gate) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(gate.Audit());
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded()) records.push_back(std::move(record));
  }
  return records;
}

bool ContainerdHasPod(const std::string& pod_uid) {
  CriClient direct(ContainerdSocket());
  auto stub = v1::RuntimeService::NewStub(direct.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListPodSandboxResponse list;
  grpc::Status s = stub->ListPodSandbox(&ctx, v1::ListPodSandboxRequest(), &list);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (const auto& pod : list.items()) {
    if (pod.metadata().uid() == pod_uid) return true;
  }
  return false;
}

bool ContainerdHasContainer(const std::string& pod_id, const std::string& name) {
  CriClient direct(ContainerdSocket());
  v1::ListContainersResponse list;
  grpc::Status s = direct.ListContainers(&list);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (const auto& c : list.containers()) {
    if (c.pod_sandbox_id() == pod_id && c.metadata().name() == name) return true;
  }
  return false;
}

bool ContainerdHasImage(const std::string& image) {
  CriClient direct(ContainerdSocket());
  v1::ImageStatusResponse status;
  grpc::Status s = direct.ImageStatus(image, &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return status.has_image() && !status.image().id().empty();
}

void RemoveFromContainerd(const std::vector<std::string>& container_ids,
                          const std::vector<std::string>& pod_ids) {
  CriClient direct(ContainerdSocket());
  for (const auto& id : container_ids) {
    direct.StopContainer(id, 0);
    direct.RemoveContainer(id);
  }
  for (const auto& id : pod_ids) {
    direct.StopPodSandbox(id);
    direct.RemovePodSandbox(id);
  }
}

}  // namespace crigate::test
