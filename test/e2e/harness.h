// What the end-to-end tests share: where the real containerd is (started by
// scripts/containerd-up.sh), and a crigate daemon run as a child process with
// a config written for the test.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace crigate::test {

// containerd's CRI socket: $CRIGATE_CONTAINERD_SOCK, else the scripts' default.
std::string ContainerdSocket();
// The directory tests may write into (logs of pods, configs).
std::string ScratchDir();
// The image the tests run containers from (imported by scripts/build-images.sh).
inline constexpr char kBusybox[] = "docker.io/library/busybox:1.35";
// The same image under the name a bare "busybox" normalises to.
inline constexpr char kBusyboxLatest[] = "docker.io/library/busybox:latest";
// containerd's sandbox image (scripts/build-images.sh builds it).
inline constexpr char kPause[] = "registry.k8s.io/pause:3.6";
// The annotation that carries a call token.
inline constexpr char kToken[] = "crigate.io/token";
// The local registry (scripts/registry-up.sh): "localhost:<port>", the port
// from $CRIGATE_REGISTRY_PORT as the scripts take it (default 5000).
std::string RegistryHost();
// The test image as that registry serves it.
std::string RegistryBusybox();

class CrigateProcess {
 public:
  struct Options {
    std::string body;            // TOML after [server] and [backend], e.g. "[log]\nlevel=..."
    std::string server_extra;    // lines inside [server] besides the socket
    std::string backend_socket;  // defaults to ContainerdSocket()
    // Off unless a test is about it (then body holds its [monitor] section):
    // a shared, busy test machine would otherwise trip the node-wide CPU
    // threshold and stop other tests' containers.
    bool monitor = false;
    // The [privilege]/[trust]/[token]/[cloud]... sections. The default
    // leaves only the caller-privilege stage on (super user: root), for
    // tests about the front end itself.
    std::string policy = "[trust]\nenabled = false\n[token]\nenabled = false\n";
    std::string audit_path;  // defaults to audit.jsonl in the process's directory
  };
  // Writes the config to a fresh directory and starts crigate on a socket there.
  CrigateProcess() : CrigateProcess(Options{}) {}
  explicit CrigateProcess(const Options& options);
  ~CrigateProcess();  // SIGKILL if still running

  // True once the socket accepts connections (waits up to 15 s).
  bool WaitReady();
  // SIGTERM and wait; returns the exit status as from waitpid, or -1.
  int Stop();
  // SIGTERM and wait up to limit; -1 (and SIGKILL) when it has not exited.
  int StopWithin(std::chrono::milliseconds limit);
  // SIGKILL and reap: a crash, with no chance to clean up.
  void Kill();
  // Starts it again with the same config (e.g. after Stop()).
  void Restart();

  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  std::string Log() const;    // everything it wrote to stderr
  std::string Audit() const;  // the audit log, one JSON line per decision
  const std::string& audit_path() const { return audit_path_; }
  pid_t pid() const { return pid_; }

 private:
  void Spawn();

  std::string dir_;
  std::string socket_;
  std::string config_path_;
  std::string log_path_;
  std::string audit_path_;
  pid_t pid_ = -1;
};

// Runs crigate with the given config file and returns {exit code, stderr}.
std::pair<int, std::string> RunCrigateOnce(const std::string& config_path,
                                           const std::string& extra_arg = "");

// Path of the crigate binary under test.
std::string CrigateBinary();

// Success when the private containerd's socket is there; otherwise a
// failure that says how to start it. ASSERT_TRUE(ContainerdIsUp()) in SetUp.
::testing::AssertionResult ContainerdIsUp();

// Starts argv (argv[0] looked up in PATH when it has no slash) as a child
// that dies with the test (PR_SET_PDEATHSIG: a killed run leaves no stray),
// its stdout and stderr appended to out_path and err_path (the same file
// when they are equal). Returns its pid, or -1 when fork failed.
pid_t SpawnChild(const std::vector<std::string>& argv, const std::string& out_path,
                 const std::string& err_path);

// The watchdog's end-to-end config: per-container CPU only, since node-wide
// checks would depend on whatever else the machine runs. A spinning
// container under a half-CPU quota samples near 1.0 on an idle machine; the
// threshold is low so that it still breaches when a loaded test machine
// gives it only part of its quota, while a sleeping one stays near 0. A long
// cool-down makes "only one victim" observable. A stop takes a baseline
// sample, three samples 250 ms apart over the threshold, and up to
// grace_seconds (busybox's sh ignores SIGTERM) before SIGKILL: about 2.5 s.
// Each wait for "nothing is stopped" in the tests is at least twice that.
inline constexpr char kBurnerMonitorConfig[] = R"(
[monitor]
enabled = true
interval_ms = 250
samples = 3
cpu = 0.3
memory = 0
pids = 0
node_cpu = 0
node_memory = 0
grace_seconds = 1
cooldown_ms = 600000
protected_namespaces = []
)";

// An ordinary caller: nobody, nogroup.
inline constexpr uid_t kNobody = 65534;
inline constexpr gid_t kNogroup = 65534;

// The reference cloud authorizer (test/authz/crigate-authz.py, or
// $CRIGATE_AUTHZ) as a child process on a free loopback port; stdout and
// stderr go to log_path.
class AuthzProcess {
 public:
  struct Options {
    std::string rules;     // --rules
    std::string node_key;  // --node-key ("" checks no signatures)
    std::string events;    // --events ("" keeps none)
    std::string log_path;  // where its output goes
  };
  explicit AuthzProcess(const Options& options);
  ~AuthzProcess();  // SIGTERM, then SIGKILL if it lingers

  // True once it listens (its --port-file appears; waits up to 15 s).
  bool WaitReady();
  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>"
  std::string Url(const std::string& path) const;
  std::string Log() const;
  pid_t pid() const { return pid_; }

 private:
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A loopback TCP port nothing listened on a moment ago (bound and released).
int UnusedLoopbackPort();

// Runs one CRI call through cri_probe as uid/gid (see cri_probe.cc) and
// returns {grpc status code, message}; {-1, reason} when the probe failed.
std::pair<int, std::string> ProbeAs(uid_t uid, gid_t gid, const std::string& socket,
                                    const std::string& verb, const std::string& arg = "");
// The same for raw request bytes sent to any method path, spelled as given.
std::pair<int, std::string> ProbeRawAs(uid_t uid, gid_t gid, const std::string& socket,
                                       const std::string& path, const std::string& request);

// Small helpers the end-to-end tests share.
std::string ReadFile(const std::string& path);
// Writes path through a rename, so a reader (crigate on SIGHUP) sees the old
// file or the new one, never half of one.
void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0644);
std::string Trim(std::string s);  // trailing newlines and spaces

struct Ran {
  int code = -1;  // exit code; 128+N for signal N; -1 when it did not finish in time
  std::string out;
  std::string err;
};
// Runs argv (no shell), waits up to timeout, and returns what it printed.
Ran RunProgram(const std::vector<std::string>& argv,
               std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Every record of gate's audit log that parses, in order.
std::vector<nlohmann::json> AuditRecords(const CrigateProcess& gate);

// containerd's own view, asked directly on its socket (around the gate).
bool ContainerdHasPod(const std::string& pod_uid);
bool ContainerdHasContainer(const std::string& pod_id, const std::string& name);
bool ContainerdHasImage(const std::string& image);
// Stops and removes what a test made, straight through containerd.
void RemoveFromContainerd(const std::vector<std::string>& container_ids,
                          const std::vector<std::string>& pod_ids);

}  // namespace crigate::test
