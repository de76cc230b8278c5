// Workload security end to end: each Pod Security Standards control, and the
// extra ones (devices, a read-only root file system), as a pair against real
// containerd: a request that breaks the control is refused naming it, and
// containerd, asked directly, holds nothing of it; a compliant one runs.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "test/cri_client.h"
#include "test/e2e/harness.h"

namespace crigate::test {
namespace {

using Code = grpc::StatusCode;
using Mutate = std::function<void(v1::ContainerConfig&)>;

constexpr char kBaselineImage[] = "docker.io/library/busybox:1.35";      // baseline + exceptions
constexpr char kRestrictedImage[] = "docker.io/library/busybox:latest";  // restricted
// Requires a read-only rootfs. A tag that sorts after the others, so that the
// first tag containerd reports for this image stays busybox:1.35; removed at
// the end.
constexpr char kReadonlyImage[] = "docker.io/library/busybox:readonly-e2e";

std::string TrustStore(const std::string& allowed_dir) {
  return R"(
[[rule]]
name = "sandbox"
image = "registry.k8s.io/pause:3.6"
actions = ["RunPodSandbox"]
allow_host_network = true

[[rule]]
name = "baseline"
image = "docker.io/library/busybox:1.35"
allow_host_network = true
allowed_devices = ["/dev/null"]
host_paths = [{ path = ")" +
         allowed_dir + R"(", read_only = true }]

[[rule]]
name = "restricted"
image = "docker.io/library/busybox:latest"
profile = "restricted"
allow_host_network = true

[[rule]]
name = "readonly"
image = "docker.io/library/busybox:readonly-e2e"
profile = "privileged"
require_readonly_rootfs = true
)";
}

// A container the restricted profile accepts.
void MakeRestricted(v1::ContainerConfig& c) {
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  sc->mutable_run_as_user()->set_value(1000);
  sc->set_no_new_privs(true);
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
}

class WorkloadE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    struct stat st;
    if (stat(ContainerdSocket().c_str(), &st) != 0) {
      setup_error_ = "containerd is not running at " + ContainerdSocket();
      return;
    }
    dir_ = new std::string(ScratchDir());
    std::filesystem::create_directories(*dir_ + "/allowed");
    // A fourth name for the same image, for the read-only rule.
    Ran tagged = RunProgram({"/usr/bin/ctr", "--address", ContainerdSocket(), "-n", "k8s.io",
                             "images", "tag", "--force", kBaselineImage, kReadonlyImage});
    if (tagged.code != 0) {
      setup_error_ = "ctr images tag failed: " + tagged.err;
      return;
    }
    WriteFile(*dir_ + "/trust.toml", TrustStore(*dir_ + "/allowed"));
    CrigateProcess::Options o;
    o.policy = "[trust]\nstore = \"" + *dir_ + "/trust.toml\"\n";
    o.policy += "kubelet_root = \"" + *dir_ + "/kubelet\"\n";
    o.policy += "[token]\nenabled = false\n";
    gate_ = new CrigateProcess(o);
    if (!gate_->WaitReady()) setup_error_ = "crigate did not start: " + gate_->Log();
  }

  static void TearDownTestSuite() {
    RunProgram({"/usr/bin/ctr", "--address", ContainerdSocket(), "-n", "k8s.io", "images", "rm",
                kReadonlyImage});
    delete gate_;
    gate_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    pod_ = HostNetworkPod("workload", *dir_);
    CriClient cri(gate_->socket());
    grpc::Status s = cri.RunPodSandbox(pod_, &pod_id_);
    ASSERT_TRUE(s.ok()) << s.error_message();
    pod_dir_ = *dir_ + "/kubelet/pods/" + pod_.metadata().uid();
    std::filesystem::create_directories(pod_dir_ + "/volumes/data");
  }

  void TearDown() override {
    CriClient direct(ContainerdSocket());
    v1::ListContainersResponse list;
    direct.ListContainers(&list);
    for (const auto& c : list.containers()) {
      if (c.pod_sandbox_id() != pod_id_) continue;
      direct.StopContainer(c.id(), 0);
      direct.RemoveContainer(c.id());
    }
    direct.StopPodSandbox(pod_id_);
    direct.RemovePodSandbox(pod_id_);
  }

  // Creates and starts a container through the gate; the first refusal.
  grpc::Status Run(const std::string& name, const std::string& image, const Mutate& mutate) {
    CriClient cri(gate_->socket());
    v1::ContainerConfig config = Container(name, image, {"sleep", "3600"});
    mutate(config);
    std::string id;
    grpc::Status s = cri.CreateContainer(pod_id_, config, pod_, &id);
    if (!s.ok()) return s;
    return cri.StartContainer(id);
  }

  // The control's pair: `breaks` is refused naming `control`, with nothing in
  // containerd; `complies` runs.
  void ExpectPair(const std::string& image, const Mutate& breaks, const std::string& control,
                  const Mutate& complies) {
    static int n = 0;
    const std::string bad = "bad-" + std::to_string(++n), good = "good-" + std::to_string(n);
    grpc::Status s = Run(bad, image, breaks);
    EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find(control), std::string::npos)
        << "wanted '" << control << "' in: " << s.error_message();
    EXPECT_FALSE(ContainerdHasContainer(pod_id_, bad)) << control << ": containerd holds it";
    s = Run(good, image, complies);
    EXPECT_TRUE(s.ok()) << control << ": the compliant container: " << s.error_message();
    EXPECT_TRUE(ContainerdHasContainer(pod_id_, good));
  }

  static inline std::string setup_error_;
  static inline std::string* dir_ = nullptr;
  static inline CrigateProcess* gate_ = nullptr;
  v1::PodSandboxConfig pod_;
  std::string pod_id_, pod_dir_;
};

v1::LinuxContainerSecurityContext* Sc(v1::ContainerConfig& c) {
  return c.mutable_linux()->mutable_security_context();
}

void AddMount(v1::ContainerConfig& c, const std::string& host, const std::string& in, bool ro) {
  auto* m = c.mutable_mounts()->Add();
  m->set_host_path(host);
  m->set_container_path(in);
  m->set_readonly(ro);
}

// The attack that started this: the host's / read-write with SYS_ADMIN,
// under a rule that names no profile (so baseline).
TEST_F(WorkloadE2E, HostRootReadWriteWithSysAdminIsRefusedUnderBaseline) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) {
        Sc(c)->mutable_capabilities()->add_add_capabilities("SYS_ADMIN");
        AddMount(c, "/", "/host", false);
      },
      "baseline: container \"bad-", [](v1::ContainerConfig&) {});
}

TEST_F(WorkloadE2E, Capabilities) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) {
        Sc(c)->mutable_capabilities()->add_add_capabilities("SYS_ADMIN");
      },
      "adds capability SYS_ADMIN",
      [](v1::ContainerConfig& c) { Sc(c)->mutable_capabilities()->add_add_capabilities("CHOWN"); });
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->mutable_capabilities()->add_add_ambient_capabilities("NET_RAW");
      },
      "restricted: container \"bad-", MakeRestricted);
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->mutable_capabilities()->clear_drop_capabilities();
      },
      "does not drop ALL capabilities",
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->mutable_capabilities()->add_add_capabilities("NET_BIND_SERVICE");
      });
}

TEST_F(WorkloadE2E, HostPathMounts) {
  const std::string own = pod_dir_ + "/volumes/data";
  auto own_volume = [own](v1::ContainerConfig& c) { AddMount(c, own, "/data", false); };
  ExpectPair(
      kBaselineImage, [](v1::ContainerConfig& c) { AddMount(c, "/etc", "/host-etc", true); },
      "mounts host path /etc at /host-etc", own_volume);
  // Climbing out of the pod's directory with "..".
  ExpectPair(
      kBaselineImage,
      [own](v1::ContainerConfig& c) {
        std::string climb;
        for (int i = 0; i < 30; ++i) climb += "/..";
        AddMount(c, own + climb + "/etc", "/e", true);
      },
      "(resolves to /etc)", own_volume);
  // A symlink inside the pod's directory that points outside it.
  ASSERT_EQ(symlink("/etc", (own + "/escape").c_str()), 0);
  ExpectPair(
      kBaselineImage, [own](v1::ContainerConfig& c) { AddMount(c, own + "/escape", "/e", true); },
      "(resolves to /etc)", own_volume);
  // The rule's exception: one host directory, read-only.
  const std::string allowed = *dir_ + "/allowed";
  ExpectPair(
      kBaselineImage, [allowed](v1::ContainerConfig& c) { AddMount(c, allowed, "/a", false); },
      "is allowed read-only",
      [allowed](v1::ContainerConfig& c) { AddMount(c, allowed, "/a", true); });
}

TEST_F(WorkloadE2E, Devices) {
  auto device = [](const std::string& path) {
    return [path](v1::ContainerConfig& c) {
      auto* d = c.mutable_devices()->Add();
      d->set_host_path(path);
      d->set_container_path("/dev/x");
      d->set_permissions("r");
    };
  };
  ExpectPair(kBaselineImage, device("/dev/mem"), "is given host device /dev/mem",
             device("/dev/null"));
}

TEST_F(WorkloadE2E, PrivilegedContainer) {
  ExpectPair(
      kBaselineImage, [](v1::ContainerConfig& c) { Sc(c)->set_privileged(true); },
      "does not allow privileged containers", [](v1::ContainerConfig&) {});
}

TEST_F(WorkloadE2E, AppArmorNotUnconfined) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) {
        Sc(c)->mutable_apparmor()->set_profile_type(v1::SecurityProfile::Unconfined);
      },
      "sets AppArmor Unconfined (linux.security_context.apparmor)", [](v1::ContainerConfig&) {});
  ExpectPair(
      kBaselineImage, [](v1::ContainerConfig& c) { Sc(c)->set_apparmor_profile("unconfined"); },
      "(linux.security_context.apparmor_profile)", [](v1::ContainerConfig&) {});
}

TEST_F(WorkloadE2E, SeLinuxTypeUserAndRole) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) { Sc(c)->mutable_selinux_options()->set_type("spc_t"); },
      "sets SELinux type spc_t", [](v1::ContainerConfig&) {});
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) { Sc(c)->mutable_selinux_options()->set_user("system_u"); },
      "sets SELinux user system_u", [](v1::ContainerConfig&) {});
}

// containerd 1.6 masks only what the request lists; kubelet lists the
// defaults (and so does the test client's Container()).
TEST_F(WorkloadE2E, ProcMaskedPathsMayNotBeEmptied) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) {
        Sc(c)->clear_masked_paths();
        Sc(c)->add_masked_paths("/proc/kcore");
      },
      "unmasks /proc/acpi (masked_paths leaves it out", [](v1::ContainerConfig&) {});
  ExpectPair(
      kBaselineImage, [](v1::ContainerConfig& c) { Sc(c)->clear_readonly_paths(); },
      "makes writable /proc/bus (readonly_paths is not set", [](v1::ContainerConfig&) {});
}

TEST_F(WorkloadE2E, Seccomp) {
  ExpectPair(
      kBaselineImage,
      [](v1::ContainerConfig& c) {
        Sc(c)->mutable_seccomp()->set_profile_type(v1::SecurityProfile::Unconfined);
      },
      "sets seccomp Unconfined (linux.security_context.seccomp)", [](v1::ContainerConfig&) {});
  ExpectPair(
      kBaselineImage, [](v1::ContainerConfig& c) { Sc(c)->set_seccomp_profile_path("unconfined"); },
      "(linux.security_context.seccomp_profile_path)", [](v1::ContainerConfig&) {});
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->clear_seccomp();
      },
      "sets no seccomp profile", MakeRestricted);
}

TEST_F(WorkloadE2E, RestrictedNoNewPrivsAndNonRoot) {
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->set_no_new_privs(false);
      },
      "no_new_privs must be true", MakeRestricted);
  // No run_as_user: the image this node holds runs as root.
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->clear_run_as_user();
      },
      "the image's user is root", MakeRestricted);
  ExpectPair(
      kRestrictedImage,
      [](v1::ContainerConfig& c) {
        MakeRestricted(c);
        Sc(c)->mutable_run_as_user()->set_value(0);
      },
      "runs as uid 0", MakeRestricted);
}

TEST_F(WorkloadE2E, ReadonlyRootFileSystemAsARuleRequirement) {
  ExpectPair(
      kReadonlyImage, [](v1::ContainerConfig&) {}, "has a writable root file system",
      [](v1::ContainerConfig& c) { Sc(c)->set_readonly_rootfs(true); });
}

// Pod-level controls are judged at RunPodSandbox.
TEST_F(WorkloadE2E, PodSysctlsAndHostPorts) {
  CriClient cri(gate_->socket());
  struct Case {
    std::function<void(v1::PodSandboxConfig&)> breaks, complies;
    std::string control;
  } cases[] = {
      {[](v1::PodSandboxConfig& p) {
         (*p.mutable_linux()->mutable_sysctls())["kernel.msgmax"] = "65536";
       },
       [](v1::PodSandboxConfig& p) {
         (*p.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
       },
       "sets sysctl kernel.msgmax=65536"},
      {[](v1::PodSandboxConfig& p) {
         auto* port = p.add_port_mappings();
         port->set_container_port(80);
         port->set_host_port(8080);
       },
       [](v1::PodSandboxConfig& p) { p.add_port_mappings()->set_container_port(80); },
       "maps host port 8080"},
  };
  for (const Case& c : cases) {
    v1::PodSandboxConfig bad = HostNetworkPod("bad-pod", *dir_);
    c.breaks(bad);
    std::string id;
    grpc::Status s = cri.RunPodSandbox(bad, &id);
    EXPECT_EQ(s.error_code(), Code::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find(c.control), std::string::npos) << s.error_message();
    EXPECT_FALSE(ContainerdHasPod(bad.metadata().uid()));
    v1::PodSandboxConfig good = HostNetworkPod("good-pod", *dir_);
    c.complies(good);
    s = cri.RunPodSandbox(good, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    CriClient direct(ContainerdSocket());
    direct.StopPodSandbox(id);
    direct.RemovePodSandbox(id);
  }
}

}  // namespace
}  // namespace crigate::test
