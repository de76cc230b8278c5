#include "test/bench/requests.h"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "cri_subset.pb.h"

namespace crigate::bench {
namespace {

namespace v1 = ::runtime::v1;

// Protobuf wire format by hand, for the fields the subset leaves out.
class Wire {
 public:
  Wire& Varint(int field, uint64_t value) {
    Tag(field, 0);
    Raw(value);
    return *this;
  }
  Wire& Bytes(int field, std::string_view value) {
    Tag(field, 2);
    Raw(value.size());
    out_.append(value);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void Tag(int field, int wire_type) { Raw((static_cast<uint64_t>(field) << 3) | wire_type); }
  void Raw(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  std::string out_;
};

std::string KeyValue(std::string_view key, std::string_view value) {
  return Wire().Bytes(1, key).Bytes(2, value).str();
}

// Upstream field numbers of what the subset omits.
constexpr int kContainerEnvs = 6;         // ContainerConfig.envs (KeyValue)
constexpr int kContainerMounts = 7;       // ContainerConfig.mounts (Mount)
constexpr int kContainerLinux = 15;       // ContainerConfig.linux
constexpr int kLinuxResources = 1;        // LinuxContainerConfig.resources
constexpr int kLinuxSecurityContext = 2;  // LinuxContainerConfig.security_context
constexpr int kSecRunAsUser = 5;          // LinuxContainerSecurityContext.run_as_user
constexpr int kSecNoNewPrivs = 11;        // ... .no_new_privs
constexpr int kSecMaskedPaths = 13;       // ... .masked_paths
constexpr int kSecReadonlyPaths = 14;     // ... .readonly_paths
constexpr int kSecSeccomp = 15;           // ... .seccomp (SecurityProfile)
constexpr int kSandboxDnsConfig = 4;      // PodSandboxConfig.dns_config
constexpr int kSandboxLinuxSysctls = 3;   // LinuxPodSandboxConfig.sysctls (map)
constexpr int kSandboxSecRunAsUser = 3;   // LinuxSandboxSecurityContext.run_as_user
constexpr int kSandboxSecSeccomp = 9;     // LinuxSandboxSecurityContext.seccomp

const std::vector<const char*>& MaskedPaths() {
  static const std::vector<const char*> kPaths = {
      "/proc/acpi",          "/proc/kcore",      "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug",   "/proc/scsi",       "/sys/firmware"};
  return kPaths;
}

const std::vector<const char*>& ReadonlyPaths() {
  static const std::vector<const char*> kPaths = {
      "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return kPaths;
}

v1::PodSandboxConfig SandboxConfig(const PodShape& s) {
  v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_name(s.pod_name);
  pod.mutable_metadata()->set_uid(s.pod_uid);
  pod.mutable_metadata()->set_namespace_(s.pod_namespace);
  pod.set_hostname(s.pod_name);
  pod.set_log_directory("/var/log/pods/" + s.pod_namespace + "_" + s.pod_name + "_" + s.pod_uid);
  auto& labels = *pod.mutable_labels();
  labels["app"] = "web";
  labels["pod-template-hash"] = "7d4b9c6f8d";
  labels["io.kubernetes.pod.name"] = s.pod_name;
  labels["io.kubernetes.pod.namespace"] = s.pod_namespace;
  labels["io.kubernetes.pod.uid"] = s.pod_uid;
  auto& annotations = *pod.mutable_annotations();
  annotations["kubernetes.io/config.seen"] = "2026-11-26T21:54:19.123456789Z";
  annotations["kubernetes.io/config.source"] = "api";
  auto* linux = pod.mutable_linux();
  linux->set_cgroup_parent("/kubepods/burstable/pod" + s.pod_uid);
  linux->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  return pod;
}

// The subset's sandbox config plus DNS, sysctls, run_as_user and seccomp.
std::string SandboxConfigBytes(const PodShape& s) {
  v1::PodSandboxConfig pod = SandboxConfig(s);
  v1::LinuxPodSandboxConfig linux = pod.linux();
  pod.clear_linux();
  std::string security = linux.security_context().SerializeAsString();
  linux.clear_security_context();
  security += Wire().Bytes(kSandboxSecRunAsUser, Wire().Varint(1, 1000).str()).str();
  security += Wire().Bytes(kSandboxSecSeccomp, Wire().Varint(1, 0).str()).str();
  std::string linux_bytes =
      linux.SerializeAsString() + Wire().Bytes(2, security).str() +
      Wire()
          .Bytes(kSandboxLinuxSysctls, KeyValue("net.ipv4.ip_unprivileged_port_start", "0"))
          .str();
  Wire dns;
  dns.Bytes(1, "10.96.0.10");
  for (auto search : {"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}) {
    dns.Bytes(2, search);
  }
  dns.Bytes(3, "ndots:5");
  return pod.SerializeAsString() + Wire().Bytes(kSandboxDnsConfig, dns.str()).str() +
         Wire().Bytes(8, linux_bytes).str();
}

std::string ContainerConfigBytes(const PodShape& s) {
  v1::ContainerConfig c;
  c.mutable_metadata()->set_name(s.container_name);
  c.mutable_image()->set_image(s.image);
  c.add_command("/bin/sh");
  c.add_args("-c");
  c.add_args("exec sleep 3600");
  c.set_working_dir("/");
  auto& labels = *c.mutable_labels();
  labels["io.kubernetes.container.name"] = s.container_name;
  labels["io.kubernetes.pod.name"] = s.pod_name;
  labels["io.kubernetes.pod.namespace"] = s.pod_namespace;
  labels["io.kubernetes.pod.uid"] = s.pod_uid;
  auto& annotations = *c.mutable_annotations();
  annotations["io.kubernetes.container.hash"] = "6b1e4f2a";
  annotations["io.kubernetes.container.ports"] =
      R"([{"name":"http","containerPort":8080,"protocol":"TCP"}])";
  annotations["io.kubernetes.container.restartCount"] = "0";
  annotations["io.kubernetes.container.terminationMessagePath"] = "/dev/termination-log";
  annotations["io.kubernetes.container.terminationMessagePolicy"] = "File";
  annotations["io.kubernetes.pod.terminationGracePeriod"] = "30";
  c.set_log_path(s.container_name + "/0.log");

  v1::LinuxContainerResources resources;
  resources.set_cpu_period(100000);
  resources.set_cpu_quota(50000);
  resources.set_cpu_shares(512);
  resources.set_memory_limit_in_bytes(256 << 20);
  resources.set_oom_score_adj(968);
  v1::LinuxContainerSecurityContext security;
  security.mutable_capabilities()->add_drop_capabilities("ALL");
  security.mutable_namespace_options()->set_pid(v1::CONTAINER);
  std::string security_bytes = security.SerializeAsString();
  Wire extra;
  extra.Bytes(kSecRunAsUser, Wire().Varint(1, 1000).str()).Varint(kSecNoNewPrivs, 1);
  for (const char* p : MaskedPaths()) extra.Bytes(kSecMaskedPaths, p);
  for (const char* p : ReadonlyPaths()) extra.Bytes(kSecReadonlyPaths, p);
  extra.Bytes(kSecSeccomp, Wire().Varint(1, 0).str());
  security_bytes += extra.str();
  std::string linux = Wire()
                          .Bytes(kLinuxResources, resources.SerializeAsString())
                          .Bytes(kLinuxSecurityContext, security_bytes)
                          .str();

  // What kubelet derives from the namespace's services, plus the pod's own.
  Wire envs;
  const char* services[] = {"KUBERNETES", "CART", "CHECKOUT", "CATALOG"};
  for (const char* svc : services) {
    std::string p = svc;
    envs.Bytes(kContainerEnvs, KeyValue(p + "_SERVICE_HOST", "10.96.12.34"))
        .Bytes(kContainerEnvs, KeyValue(p + "_SERVICE_PORT", "443"))
        .Bytes(kContainerEnvs, KeyValue(p + "_PORT", "tcp://10.96.12.34:443"))
        .Bytes(kContainerEnvs, KeyValue(p + "_PORT_443_TCP_ADDR", "10.96.12.34"));
  }
  envs.Bytes(kContainerEnvs, KeyValue("LOG_LEVEL", "info"))
      .Bytes(kContainerEnvs, KeyValue("HTTP_PORT", "8080"))
      .Bytes(kContainerEnvs, KeyValue("POD_NAME", s.pod_name))
      .Bytes(kContainerEnvs, KeyValue("POD_NAMESPACE", s.pod_namespace));

  const std::string pod_dir = "/var/lib/kubelet/pods/" + s.pod_uid;
  Wire mounts;
  mounts
      .Bytes(kContainerMounts,
             Wire()
                 .Bytes(1, "/var/run/secrets/kubernetes.io/serviceaccount")
                 .Bytes(2, pod_dir + "/volumes/kubernetes.io~projected/kube-api-access-8k2xv")
                 .Varint(3, 1)
                 .str())
      .Bytes(kContainerMounts, Wire().Bytes(1, "/etc/hosts").Bytes(2, pod_dir + "/etc-hosts").str())
      .Bytes(kContainerMounts, Wire()
                                   .Bytes(1, "/dev/termination-log")
                                   .Bytes(2, pod_dir + "/containers/app/3f9a2c1e")
                                   .str());

  return c.SerializeAsString() + envs.str() + mounts.str() +
         Wire().Bytes(kContainerLinux, linux).str();
}

}  // namespace

std::string KubeletCreateContainerRequest(const PodShape& shape) {
  return Wire()
      .Bytes(1, shape.sandbox_id)
      .Bytes(2, ContainerConfigBytes(shape))
      .Bytes(3, SandboxConfigBytes(shape))
      .str();
}

std::string KubeletRunPodSandboxRequest(const PodShape& shape) {
  return Wire().Bytes(1, SandboxConfigBytes(shape)).str();
}

}  // namespace crigate::bench
