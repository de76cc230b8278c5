// The crigate shim wrapper: installed as containerd-shim-runc-v2 on
// containerd's PATH (or as containerd-shim-crigate-v2 for a runtime of its
// own), so that containerd runs it for every runc task. containerd runs
// `<shim> ... start` once for every task, sandbox or container, with the
// bundle as working directory (runtime/v2/manager.go startShim,
// runtime/v2/binary.go Start). On `start` this wrapper takes the gate's
// approval for the task out of the approval directory (approval_store.h)
// and checks it against ./config.json: a container's spec digest, a
// sandbox's shape. It then either refuses (one line on stderr, exit 1:
// containerd fails the task with that line) or execs the real runc shim
// with the same arguments, environment, working directory and stdin (the
// runtime options). Every other call (delete, serve) is exec'ed at once.
//
// The real shim may be installed without execute permission (mode 0600), so
// that containerd cannot run it by its absolute path (`ctr run --runtime
// /path/to/it`). The wrapper then execs a private copy, made for this one
// call in a root-only directory and unlinked as soon as the call's process
// has exited (the runc shim's own serve process keeps running from it).
//
// After the exec this process *is* the runc shim. Nothing of crigate stays
// running but the copy's cleaner, which lives as long as the start call.
//
// Settings, from the environment containerd passes on (root's), else built in:
//   CRIGATE_SHIM_RUNTIME       the real shim      (CRIGATE_SHIM_DEFAULT_RUNTIME)
//   CRIGATE_SHIM_KEY           the approval key   (/etc/crigate/approval.key)
//   CRIGATE_SHIM_APPROVAL_DIR  the approvals      (/run/crigate/approvals)
//   CRIGATE_SHIM_EXEC_DIR      private copies     (/var/lib/crigate/shim-exec)
#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/base/files.h"
#include "shim/approval_store.h"
#include "shim/hmac_sha256.h"
#include "shim/runtime_spec.h"
#include "shim/shim_args.h"

#ifndef CRIGATE_SHIM_DEFAULT_RUNTIME
#define CRIGATE_SHIM_DEFAULT_RUNTIME "/usr/lib/crigate/shim/containerd-shim-runc-v2"
#endif

namespace crigate::shim {
namespace {

constexpr char kDefaultExecDir[] = "/var/lib/crigate/shim-exec";

std::string Setting(const char* env, const char* fallback) {
  const char* v = std::getenv(env);  // NOLINT(concurrency-mt-unsafe): the shim has one thread
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The start is allowed only when the approval directory holds an approval
// for exactly this task, which this call then uses up.
base::Status CheckStart(const ShimCall& call, const std::string& key_path,
                        const std::string& approval_dir) {
  if (call.id.empty()) return Refused("the start names no task id (-id)");
  nlohmann::json spec;
  if (base::Status s = ReadRuntimeSpec("config.json", &spec); !s.ok()) return s;
  const std::string type = CriContainerType(spec);
  std::string name;
  if (type == "container") {
    name = ContainerApprovalName(call.id);
  } else if (type == "sandbox") {
    name = SandboxApprovalName(SpecAnnotation(spec, "io.kubernetes.cri.sandbox-namespace"),
                               SpecAnnotation(spec, "io.kubernetes.cri.sandbox-name"),
                               SpecAnnotation(spec, "io.kubernetes.cri.sandbox-uid"));
  } else {
    return Refused(
        "task " + call.id +
        " is not a pod or container that containerd's CRI created through crigate (no "
        "io.kubernetes.cri.container-type annotation): only starts crigate allowed run here");
  }
  ApprovalKey key;
  if (base::Status s = LoadApprovalKey(key_path, &key); !s.ok()) return s;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ApprovalRecord record;
  if (base::Status s = TakeApproval(approval_dir, name, key, now, &record); !s.ok()) {
    return IsRefusal(s) ? Refused(type + " " + call.id + ": " + s.message()) : s;
  }
  if (record.containerd_namespace != call.namespace_) {
    return Refused(type + " " + call.id + " in containerd namespace \"" + call.namespace_ +
                   "\": the approval is for namespace \"" + record.containerd_namespace + "\"");
  }
  if (type == "container") {
    if (record.kind != ApprovalKind::kContainer || record.container_id != call.id) {
      return Refused("container " + call.id + ": the approval was issued for another task");
    }
    const std::string digest = SpecDigest(spec, call.id);
    if (digest.empty() || digest != record.spec_digest) {
      return Refused("container " + call.id + ": its runtime spec (" + digest +
                     ") is not the one crigate approved (" + record.spec_digest +
                     "): changed after crigate judged it, or another container in its place");
    }
    return base::Status::OK();
  }
  if (record.kind != ApprovalKind::kSandbox) {
    return Refused("sandbox " + call.id + ": the approval is not for a sandbox");
  }
  const std::string mismatch = CheckSpecShape(spec, record.sandbox.Rules(call.id));
  if (!mismatch.empty()) {
    return Refused("sandbox " + call.id + " of pod " + record.sandbox.pod_namespace + "/" +
                   record.sandbox.pod_name + ": " + mismatch);
  }
  return base::Status::OK();
}

// The same file as this executable: exec'ing it would loop.
bool IsSelf(const std::string& path) {
  char target[PATH_MAX];
  char self[PATH_MAX];
  if (realpath(path.c_str(), target) == nullptr) return false;
  if (realpath("/proc/self/exe", self) == nullptr) return false;
  return std::strcmp(target, self) == 0;
}

// Waits, in a child cut off from containerd's pipes, until `parent` (this
// process, about to become the runc shim) has exited, then unlinks `path`.
void UnlinkWhenGone(pid_t parent, const std::string& path) {
  const pid_t child = fork();
  if (child != 0) return;  // parent (or fork failed: the copy stays until the next sweep)
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; ++fd) {
    if (null_fd >= 0) dup2(null_fd, fd);
  }
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 1024; ++fd) close(fd);  // kernels before 5.9
  }
  setsid();
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent, 0));
  if (pidfd >= 0) {
    if (getppid() == parent) {
      pollfd p{pidfd, POLLIN, 0};
      while (poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
    }
  } else {
    // A kernel without pidfd_open (before 5.3): poll the parent.
    while (getppid() == parent) usleep(20000);
  }
  unlink(path.c_str());
  _exit(0);
}

// Removes copies left by cleaners that never ran (a reboot keeps
// /var/lib): every file older than an hour. A running shim keeps its copy's
// inode, so unlinking never stops one.
void SweepCopies(int dir_fd) {
  const int fd = dup(dir_fd);
  if (fd < 0) return;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return;
  }
  const time_t cutoff = time(nullptr) - 3600;
  while (const dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread
    struct stat st {};
    if (e->d_name[0] == '.') continue;
    if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < cutoff) {
      unlinkat(dir_fd, e->d_name, 0);
    }
  }
  closedir(d);
}

// A private executable copy of `runtime` in `dir` (created 0700), for a real
// shim installed without execute permission.
bool PrivateCopy(const std::string& runtime, const std::string& dir, std::string* path,
                 std::string* error) {
  int dir_fd = -1;
  if (base::Status s = OpenPrivateDir(dir, /*create=*/true, &dir_fd); !s.ok()) {
    *error = s.message();
    return false;
  }
  SweepCopies(dir_fd);
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
    close(dir_fd);
    *error = "no random bytes from OpenSSL";
    return false;
  }
  const std::string name = HexString(rnd, sizeof(rnd));
  const int src = open(runtime.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat sst {};
  if (src < 0 || fstat(src, &sst) != 0) {
    if (src >= 0) close(src);
    close(dir_fd);
    *error = "cannot read " + runtime + ": " + base::ErrnoText(errno);
    return false;
  }
  const int out = openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  close(dir_fd);
  if (out < 0) {
    close(src);
    *error = "cannot create a copy in " + dir + ": " + base::ErrnoText(errno);
    return false;
  }
  *path = dir + "/" + name;
  off_t offset = 0;
  while (offset < sst.st_size) {
    const ssize_t n = sendfile(out, src, &offset, static_cast<size_t>(sst.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  const int copy_err = offset == sst.st_size ? 0 : (errno != 0 ? errno : EIO);
  close(src);
  close(out);
  if (copy_err != 0) {
    unlink(path->c_str());
    *error = "cannot copy " + runtime + ": " + base::ErrnoText(copy_err);
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  const std::string runtime = Setting("CRIGATE_SHIM_RUNTIME", CRIGATE_SHIM_DEFAULT_RUNTIME);
  const ShimCall call = ParseShimArgs(argc, argv);
  if (call.NeedsApproval()) {
    // The digest runs without OpenSSL's providers (hmac_sha256.h); should
    // anything initialise OpenSSL, it must not read openssl.cnf, which costs
    // time on every start and can load modules.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    const base::Status s = CheckStart(call, Setting("CRIGATE_SHIM_KEY", kDefaultApprovalKeyPath),
                                      Setting("CRIGATE_SHIM_APPROVAL_DIR", kDefaultApprovalDir));
    if (!s.ok()) {
      // containerd reports the combined output followed by ": exit status 1";
      // no newline, as Go shims print their errors.
      (void)std::fprintf(stderr, "crigate refused the start: %s", s.message().c_str());
      return 1;
    }
  }
  if (IsSelf(runtime)) {
    (void)std::fprintf(stderr, "crigate shim: CRIGATE_SHIM_RUNTIME=%s is this wrapper itself",
                       runtime.c_str());
    return 1;
  }
  std::string exec_path = runtime;
  struct stat st {};
  if (stat(runtime.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0) {
    std::string error;
    if (!PrivateCopy(runtime, Setting("CRIGATE_SHIM_EXEC_DIR", kDefaultExecDir), &exec_path,
                     &error)) {
      (void)std::fprintf(stderr, "crigate shim: %s", error.c_str());
      return 1;
    }
    UnlinkWhenGone(getpid(), exec_path);
  }
  std::vector<char*> args(argv, argv + argc);
  // argv[0] names the shim as containerd knows it, not the private copy.
  args.push_back(nullptr);
  execv(exec_path.c_str(), args.data());
  const int err = errno;
  (void)std::fprintf(stderr, "crigate shim: cannot exec %s: %s", exec_path.c_str(),
                     base::ErrnoText(err).c_str());
  return 1;
}

}  // namespace
}  // namespace crigate::shim

int main(int argc, char** argv) {
  if (argc < 1) return 1;
  try {
    return crigate::shim::Main(argc, argv);
  } catch (const std::exception& e) {
    // A start that failed in an unforeseen way is a refused start.
    (void)std::fprintf(stderr, "crigate shim: %s", e.what());
    return 1;
  }
}
