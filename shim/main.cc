// containerd-shim-crigate-v2: containerd's runtime shim for the crigate
// runtime (runtime_type "io.containerd.crigate.v2"). containerd runs
// `<shim> ... start` once for every task, sandbox or container, with the
// bundle as working directory (runtime/v2/manager.go startShim,
// runtime/v2/binary.go Start). On `start` this wrapper checks the gate's
// approval in ./config.json and either refuses (one line on stderr, exit 1:
// containerd fails the task with that line) or execs containerd-shim-runc-v2
// with the same arguments, environment, working directory and stdin (the
// runtime options). Every other call (delete, serve) is exec'ed at once.
//
// After the exec this process *is* the runc shim: the runc shim's `start`
// re-executes /proc/self/exe, the real runc shim, to serve, and joins a pod's
// existing shim when there is one. Nothing of crigate stays running.
//
// Settings, from the environment containerd passes on (root's), else built in:
//   CRIGATE_SHIM_RUNTIME    the real shim     (CRIGATE_SHIM_DEFAULT_RUNTIME)
//   CRIGATE_SHIM_KEY        the approval key  (/etc/crigate/approval.key)
//   CRIGATE_SHIM_STATE_DIR  used approvals    (/run/crigate/shim)
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "shim/approval.h"
#include "shim/shim_args.h"
#include "shim/spec_annotations.h"
#include "shim/used_approvals.h"

#ifndef CRIGATE_SHIM_DEFAULT_RUNTIME
#define CRIGATE_SHIM_DEFAULT_RUNTIME "/usr/bin/containerd-shim-runc-v2"
#endif

namespace crigate::shim {
namespace {

constexpr char kDefaultStateDir[] = "/run/crigate/shim";

std::string Setting(const char* env, const char* fallback) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The start is allowed only when the spec carries a valid approval that was
// never used before.
ApprovalStatus CheckStart(const std::string& key_path, const std::string& state_dir) {
  std::map<std::string, std::string> annotations;
  if (ApprovalStatus s = ReadSpecAnnotations("config.json", &annotations); !s.ok()) return s;
  ApprovalFields fields;
  std::string token;
  if (ApprovalStatus s = ApprovalFromSpecAnnotations(annotations, &fields, &token); !s.ok()) {
    return s;
  }
  ApprovalKey key;
  if (ApprovalStatus s = LoadApprovalKey(key_path, &key); !s.ok()) return s;
  const auto now = std::chrono::system_clock::now();
  VerifiedApproval verified;
  if (ApprovalStatus s = VerifyApproval(key, fields, token, now, &verified); !s.ok()) return s;
  const int64_t now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return RecordFirstUse(state_dir, verified, now_unix);
}

// The same file as this executable: exec'ing it would loop.
bool IsSelf(const std::string& path) {
  char target[PATH_MAX];
  char self[PATH_MAX];
  if (realpath(path.c_str(), target) == nullptr) return false;
  if (realpath("/proc/self/exe", self) == nullptr) return false;
  return std::strcmp(target, self) == 0;
}

int Main(int argc, char** argv) {
  const std::string runtime = Setting("CRIGATE_SHIM_RUNTIME", CRIGATE_SHIM_DEFAULT_RUNTIME);
  const ShimCall call = ParseShimArgs(argc, argv);
  if (call.NeedsApproval()) {
    // The digest runs without OpenSSL's providers (hmac_sha256.h); should
    // anything initialise OpenSSL, it must not read openssl.cnf, which costs
    // time on every start and can load modules.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    const ApprovalStatus s = CheckStart(Setting("CRIGATE_SHIM_KEY", kDefaultApprovalKeyPath),
                                        Setting("CRIGATE_SHIM_STATE_DIR", kDefaultStateDir));
    if (!s.ok()) {
      // containerd reports the combined output followed by ": exit status 1";
      // no newline, as Go shims print their errors.
      std::fprintf(stderr, "crigate refused the start: %s", s.reason().c_str());
      return 1;
    }
  }
  if (IsSelf(runtime)) {
    std::fprintf(stderr, "crigate shim: CRIGATE_SHIM_RUNTIME=%s is this wrapper itself",
                 runtime.c_str());
    return 1;
  }
  std::vector<char*> args(argv, argv + argc);
  args[0] = const_cast<char*>(runtime.c_str());
  args.push_back(nullptr);
  execv(runtime.c_str(), args.data());
  const int err = errno;
  std::fprintf(stderr, "crigate shim: cannot exec %s: %s", runtime.c_str(), std::strerror(err));
  return 1;
}

}  // namespace
}  // namespace crigate::shim

int main(int argc, char** argv) {
  if (argc < 1) return 1;
  return crigate::shim::Main(argc, argv);
}
