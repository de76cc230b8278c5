// crigate-demo: the README's first command (scripts/demo.sh) drives this. It
// talks to a running crigate exactly as kubelet would and narrates what the
// gate did with each call: a pod that is allowed through and runs, then calls
// the gate refuses, each with the reason it gave.
//
//   crigate-demo --gate SOCKET --token-allowed TOKEN [--token-untrusted T]
//                [--token-blocked T] [--token-forged T]   (one token per pod)
//                [--log-dir DIR] [--image REF] [--untrusted-image REF]
//                [--nobody-uid N]
//   crigate-demo --gate SOCKET --phase pushed --token-pushed TOKEN
//       after the cloud pushed a bundle that trusts --untrusted-image: the
//       step-2 pod again, now allowed (scripts/demo.sh publishes the bundle)
//
// The non-root step runs this same program again as --nobody-uid (it drops
// to that uid before it opens any connection), so the caller crigate sees
// really is another user.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "test/cri_client.h"

namespace {

using crigate::test::CriClient;
namespace v1 = ::runtime::v1;

constexpr char kTokenAnnotation[] = "crigate.io/token";

struct Flags {
  std::string gate;
  std::string log_dir = "/tmp";
  std::map<std::string, std::string> tokens;  // allowed, forged
  std::string image = "docker.io/library/busybox:1.35";
  std::string untrusted_image = "docker.io/library/busybox:latest";
  long nobody_uid = 65534;
  bool as_nobody = false;  // internal: this process is the non-root caller
  std::string phase;       // "pushed": only the step after the cloud's bundle
};

int g_failures = 0;

void Step(const std::string& title) { std::printf("\n== %s\n", title.c_str()); }

// One line per call: what came back, and whether that is what the demo meant
// to show. A refusal's reason is printed on its own line, for reading.
void Show(const char* call, const grpc::Status& s, bool expect_ok) {
  const bool as_expected = s.ok() == expect_ok;
  if (!as_expected) ++g_failures;
  const char* mark = as_expected ? "" : "   <-- NOT what the demo expected";
  if (s.ok()) {
    std::printf("   %-16s -> OK%s\n", call, mark);
  } else {
    std::printf("   %-16s -> %s%s\n", call, crigate::test::StatusCodeName(s.error_code()).c_str(),
                mark);
    std::printf("   %-16s    reason: %s\n", "", s.error_message().c_str());
  }
  std::fflush(stdout);
}

std::string Token(const Flags& f, const std::string& which) {
  auto it = f.tokens.find(which);
  return it == f.tokens.end() ? "" : it->second;
}

v1::PodSandboxConfig Pod(const Flags& f, const std::string& name, const std::string& token) {
  v1::PodSandboxConfig pod = crigate::test::HostNetworkPod(name, f.log_dir);
  if (!token.empty()) (*pod.mutable_annotations())[kTokenAnnotation] = token;
  return pod;
}

// What the restricted profile asks of a container: a non-root user, no way
// to gain privileges, every capability dropped, the runtime's seccomp profile.
void Restrict(v1::ContainerConfig& c) {
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(1000);
  sc->set_no_new_privs(true);
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
}

void RemovePod(CriClient& cri, const std::string& pod_id) {
  if (pod_id.empty()) return;
  cri.StopPodSandbox(pod_id);
  cri.RemovePodSandbox(pod_id);
}

void AllowedPod(const Flags& f) {
  Step("1. A trusted image, a valid token, a cloud that agrees: allowed, and it runs");
  std::printf("   pod 'demo-web' carries the token in its annotation %s\n", kTokenAnnotation);
  CriClient cri(f.gate);
  auto pod = Pod(f, "demo-web", Token(f, "allowed"));
  std::string pod_id, id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  Show("RunPodSandbox", s, true);
  if (!s.ok()) return;
  std::printf(
      "   the container runs as uid 1000, drops every capability, no_new_privs, seccomp "
      "RuntimeDefault\n");
  v1::ContainerConfig web = crigate::test::Container("web", f.image, {"sleep", "3600"});
  Restrict(web);
  s = cri.CreateContainer(pod_id, web, pod, &id);
  Show("CreateContainer", s, true);
  if (s.ok()) {
    // StartContainer names only the container id: crigate kept the token the
    // container was created with (it never reached containerd).
    Show("StartContainer", cri.StartContainer(id), true);
    v1::ExecSyncResponse exec;
    s = cri.ExecSync(id, {"sh", "-c", "echo hello from inside the gated container, uid $(id -u)"},
                     &exec);
    Show("ExecSync", s, true);
    if (s.ok()) std::printf("   %-16s    output: %s", "", exec.stdout().c_str());
    Show("StopContainer", cri.StopContainer(id, 0), true);
    Show("RemoveContainer", cri.RemoveContainer(id), true);
  }
  Show("StopPodSandbox", cri.StopPodSandbox(pod_id), true);
  Show("RemovePodSandbox", cri.RemovePodSandbox(pod_id), true);
}

void UntrustedImage(const Flags& f) {
  Step("2. An image the trust store does not list: refused");
  CriClient cri(f.gate);
  auto pod = Pod(f, "demo-untrusted", Token(f, "untrusted"));
  std::string pod_id, id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  Show("RunPodSandbox", s, true);
  if (!s.ok()) return;
  std::printf("   the container asks for %s\n", f.untrusted_image.c_str());
  s = cri.CreateContainer(
      pod_id, crigate::test::Container("miner", f.untrusted_image, {"sleep", "3600"}), pod, &id);
  Show("CreateContainer", s, false);
  if (s.ok()) cri.RemoveContainer(id);
  RemovePod(cri, pod_id);
}

void PushedPolicy(const Flags& f) {
  Step("10. Step 2's image again, now that the cloud's bundle trusts it: allowed, and it runs");
  CriClient cri(f.gate);
  auto pod = Pod(f, "demo-pushed", Token(f, "pushed"));
  std::string pod_id, id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  Show("RunPodSandbox", s, true);
  if (!s.ok()) return;
  std::printf("   the container asks for %s\n", f.untrusted_image.c_str());
  v1::ContainerConfig c = crigate::test::Container("pushed", f.untrusted_image, {"sleep", "3600"});
  Restrict(c);
  s = cri.CreateContainer(pod_id, c, pod, &id);
  Show("CreateContainer", s, true);
  if (s.ok()) {
    Show("StartContainer", cri.StartContainer(id), true);
    cri.StopContainer(id, 0);
    cri.RemoveContainer(id);
  }
  RemovePod(cri, pod_id);
}

void RestrictedProfile(const Flags& f) {
  Step(
      "8. A trusted image and a valid token, but the container asks for SYS_ADMIN and the "
      "host's / read-write: refused by the restricted profile");
  CriClient cri(f.gate);
  auto pod = Pod(f, "demo-escape", Token(f, "restricted"));
  std::string pod_id, id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  Show("RunPodSandbox", s, true);
  if (!s.ok()) return;
  v1::ContainerConfig escape = crigate::test::Container("escape", f.image, {"sleep", "3600"});
  Restrict(escape);
  escape.mutable_linux()->mutable_security_context()->mutable_capabilities()->add_add_capabilities(
      "SYS_ADMIN");
  auto* mount = escape.add_mounts();
  mount->set_host_path("/");
  mount->set_container_path("/host");
  s = cri.CreateContainer(pod_id, escape, pod, &id);
  Show("CreateContainer", s, false);
  if (s.ok()) cri.RemoveContainer(id);
  RemovePod(cri, pod_id);
}

// A step whose pod the gate must refuse at RunPodSandbox.
void RefusedPod(const Flags& f, const char* title, const char* note, const std::string& name,
                const std::string& token) {
  Step(title);
  if (note != nullptr) std::printf("   (%s)\n", note);
  CriClient cri(f.gate);
  std::string pod_id;
  grpc::Status s = cri.RunPodSandbox(Pod(f, name, token), &pod_id);
  Show("RunPodSandbox", s, false);
  RemovePod(cri, pod_id);
}

void MissingToken(const Flags& f) {
  RefusedPod(f, "3. A pod with no token: refused", nullptr, "demo-no-token", "");
}

void ReplayedToken(const Flags& f) {
  RefusedPod(f, "7. The first pod's token, presented again for another pod: refused",
             "a token starts one pod sandbox, whatever uid the new pod is given", "demo-replay",
             Token(f, "allowed"));
}

void ForgedToken(const Flags& f) {
  RefusedPod(f, "4. A token signed by a key crigate does not trust: refused",
             "signed with another key, its header claiming the operator's key id", "demo-forged",
             Token(f, "forged"));
}

// Runs in the child: drops to the unprivileged uid, then makes the call.
int NobodyCalls(const Flags& f) {
  const gid_t gid = static_cast<gid_t>(f.nobody_uid);
  if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 ||
      setuid(static_cast<uid_t>(f.nobody_uid)) != 0) {
    std::perror("crigate-demo: cannot drop to the unprivileged uid");
    return 1;
  }
  CriClient cri(f.gate);
  std::string pod_id;
  grpc::Status s = cri.RunPodSandbox(Pod(f, "demo-not-root", Token(f, "allowed")), &pod_id);
  Show("RunPodSandbox", s, false);
  RemovePod(cri, pod_id);
  return g_failures == 0 ? 0 : 1;
}

void NonRootCaller(const Flags& f, const char* self) {
  Step("5. The same valid token, but the caller is not root: refused");
  std::printf("   (this step runs as uid %ld; crigate reads the uid from the socket)\n",
              f.nobody_uid);
  std::fflush(stdout);
  std::vector<std::string> args = {self, "--gate", f.gate, "--log-dir", f.log_dir};
  args.insert(args.end(), {"--nobody-uid", std::to_string(f.nobody_uid), "--as-nobody", "1"});
  for (const auto& [k, v] : f.tokens) args.insert(args.end(), {"--token-" + k, v});
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++g_failures;
}

void CloudSaysNo(const Flags& f) {
  RefusedPod(f, "6. Trusted image, valid token, root caller, but the cloud says no: refused",
             "pod 'demo-blocked' is one the fleet's policy does not allow on this node",
             "demo-blocked", Token(f, "blocked"));
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--gate") {
      f.gate = v;
    } else if (k == "--log-dir") {
      f.log_dir = v;
    } else if (k == "--image") {
      f.image = v;
    } else if (k == "--untrusted-image") {
      f.untrusted_image = v;
    } else if (k == "--nobody-uid") {
      f.nobody_uid = std::stol(v);
    } else if (k == "--phase") {
      f.phase = v;
    } else if (k == "--as-nobody") {
      f.as_nobody = v == "1";
    } else if (k.rfind("--token-", 0) == 0) {
      f.tokens[k.substr(8)] = v;
    } else {
      std::fprintf(stderr, "crigate-demo: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (!f.gate.empty() && f.phase == "pushed" && !Token(f, "pushed").empty()) {
    PushedPolicy(f);
    return g_failures == 0 ? 0 : 1;
  }
  if (f.gate.empty() || Token(f, "allowed").empty()) {
    std::fprintf(stderr,
                 "usage: crigate-demo --gate SOCKET --token-allowed TOKEN [--token-forged T]\n"
                 "                    [--log-dir DIR] [--image REF] [--untrusted-image REF]\n"
                 "                    [--nobody-uid N]\n"
                 "       crigate-demo --gate SOCKET --phase pushed --token-pushed TOKEN\n");
    return 2;
  }
  if (f.as_nobody) return NobodyCalls(f);

  AllowedPod(f);
  UntrustedImage(f);
  MissingToken(f);
  if (!Token(f, "forged").empty()) ForgedToken(f);
  if (getuid() == 0) NonRootCaller(f, argv[0]);
  CloudSaysNo(f);
  ReplayedToken(f);
  if (!Token(f, "restricted").empty()) RestrictedProfile(f);
  std::printf("\n%s\n", g_failures == 0 ? "demo: every call ended as expected"
                                        : "demo: some calls did NOT end as expected");
  return g_failures == 0 ? 0 : 1;
}
