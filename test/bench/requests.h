// Requests shaped like the ones kubelet sends, shared by the load client and
// the micro-benchmarks so both measure the same bytes.
//
// The CRI subset leaves out fields crigate does not read (envs, mounts, DNS,
// masked paths...); kubelet sends them all the same, and the gate must skip
// them when it parses. They are written here with the upstream field numbers
// of k8s.io/cri-api runtime.v1, so the wire image is what a real node sees.
#pragma once

#include <string>

namespace crigate::bench {

// What a pod's requests are filled from.
struct PodShape {
  std::string pod_name = "web-7d4b9c6f8d-x2x7q";
  std::string pod_namespace = "shop";
  std::string pod_uid = "5f1c2d9e-3b7a-4c55-9d0e-8a6f7b2c1d34";
  std::string container_name = "app";
  std::string image = "docker.io/library/busybox:1.35";
  std::string sandbox_id = "9b1e0d4c7a3f25e8b6d1c0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b";
};

// A serialised runtime.v1.CreateContainerRequest (about 3 KB) as kubelet 1.26
// writes it for a Deployment's container: labels, annotations, 20 service
// environment variables, the service-account, hosts and termination-log
// mounts, resources, a restricted security context, and the sandbox config.
std::string KubeletCreateContainerRequest(const PodShape& shape = PodShape());

// A serialised runtime.v1.RunPodSandboxRequest for the same pod (about 1 KB).
std::string KubeletRunPodSandboxRequest(const PodShape& shape = PodShape());

}  // namespace crigate::bench
