#include "policy/workload_profile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using Kind = Confinement::Kind;

Confinement Profile(Kind kind, const std::string& field = "seccomp") {
  Confinement c;
  c.kind = kind;
  c.field = field;
  return c;
}

// A container every level accepts: restricted-compliant.
ContainerInfo Compliant() {
  ContainerInfo c;
  c.name = "web";
  c.security.drop_capabilities = {"ALL"};
  c.security.add_capabilities = {"NET_BIND_SERVICE"};
  c.security.run_as_user = 1000;
  c.security.no_new_privs = true;
  c.security.seccomp = {Profile(Kind::kRuntimeDefault)};
  testing::SetDefaultProcPaths(&c.security);
  return c;
}

PodInfo Pod() {
  PodInfo pod;
  pod.name = "shop";
  pod.uid = "uid-1";
  return pod;
}

WorkloadProfile Level(PssLevel level) {
  WorkloadProfile p;
  p.level = level;
  return p;
}

class WorkloadProfileTest : public ::testing::Test {
 protected:
  std::optional<std::string> Check(PssLevel level, const ContainerInfo& c,
                                   const WorkloadProfile* profile = nullptr) {
    WorkloadProfile p = profile ? *profile : Level(level);
    p.level = level;
    WorkloadContext context;
    context.pod_dir = pod_dir_;
    context.image = &image_;
    return CheckContainerSecurity(p, c, pod_, context);
  }

  void ExpectViolation(PssLevel level, const ContainerInfo& c, const std::string& fragment,
                       const WorkloadProfile* profile = nullptr) {
    std::optional<std::string> v = Check(level, c, profile);
    ASSERT_TRUE(v) << "expected a violation containing: " << fragment;
    EXPECT_NE(v->find(fragment), std::string::npos) << *v;
  }

  testing::TempDir dir_;
  std::string pod_dir_ = dir_.path() + "/kubelet/pods/uid-1";
  PodInfo pod_ = Pod();
  ImageIdentity image_{"sha256:x", {}, {}, std::nullopt, ""};  // runs as root
};

TEST_F(WorkloadProfileTest, TheCompliantContainerPassesEveryLevel) {
  for (PssLevel level : {PssLevel::kPrivileged, PssLevel::kBaseline, PssLevel::kRestricted}) {
    EXPECT_EQ(Check(level, Compliant()), std::nullopt) << PssLevelName(level);
  }
}

TEST_F(WorkloadProfileTest, CapabilitiesBaselineDefaultSetRestrictedOnlyNetBindService) {
  ContainerInfo c = Compliant();
  c.security.add_capabilities = {"SYS_ADMIN"};
  ExpectViolation(PssLevel::kBaseline, c,
                  "baseline: container \"web\" adds capability SYS_ADMIN "
                  "(linux.security_context.capabilities.add_capabilities; allowed: AUDIT_WRITE");
  ExpectViolation(PssLevel::kRestricted, c,
                  "restricted: container \"web\" adds capability SYS_ADMIN "
                  "(linux.security_context.capabilities.add_capabilities; allowed: "
                  "NET_BIND_SERVICE)");
  EXPECT_EQ(Check(PssLevel::kPrivileged, c), std::nullopt);
  // Any spelling is the same capability; ALL is not in any set.
  c.security.add_capabilities = {"cap_chown"};
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  ExpectViolation(PssLevel::kRestricted, c, "adds capability CHOWN");
  c.security.add_capabilities = {"ALL"};
  ExpectViolation(PssLevel::kBaseline, c, "adds capability ALL");
  // Ambient capabilities count as added.
  c = Compliant();
  c.security.ambient_capabilities = {"CAP_NET_RAW"};
  ExpectViolation(PssLevel::kBaseline, c, "capabilities.add_ambient_capabilities");
  // Restricted must drop ALL.
  c = Compliant();
  c.security.drop_capabilities = {"NET_RAW"};
  ExpectViolation(PssLevel::kRestricted, c, "does not drop ALL capabilities");
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  // An exception adds one capability.
  WorkloadProfile p;
  p.capabilities = {"SYS_ADMIN"};
  c = Compliant();
  c.security.add_capabilities = {"SYS_ADMIN"};
  EXPECT_EQ(Check(PssLevel::kBaseline, c, &p), std::nullopt);
}

TEST_F(WorkloadProfileTest, HostPathsOutsideThePodsOwnDirectoryAreRefused) {
  std::filesystem::create_directories(pod_dir_ + "/volumes/v");
  std::filesystem::create_directories(dir_.path() + "/srv/data");
  ContainerInfo c = Compliant();
  c.security.mounts = {{"/data", pod_dir_ + "/volumes/v", false}};
  EXPECT_EQ(Check(PssLevel::kRestricted, c), std::nullopt) << "the pod's own volume";
  // Not created yet: containerd would create it, still below the pod's directory.
  c.security.mounts = {{"/data", pod_dir_ + "/volumes/new/x", false}};
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);

  c.security.mounts = {{"/host", "/", false}};
  ExpectViolation(PssLevel::kBaseline, c,
                  "baseline: container \"web\" mounts host path / at /host (mounts[0]; allowed: "
                  "the pod's own volumes under " +
                      pod_dir_);
  EXPECT_EQ(Check(PssLevel::kPrivileged, c), std::nullopt);
  // Climbing out with ..
  c.security.mounts = {{"/etc", pod_dir_ + "/volumes/v/../../../../../../../../etc", true}};
  ExpectViolation(PssLevel::kBaseline, c, "(resolves to /etc)");
  // Another pod's directory is not this pod's.
  c.security.mounts = {{"/x", dir_.path() + "/kubelet/pods/uid-10/volumes", true}};
  ExpectViolation(PssLevel::kBaseline, c, "mounts host path");
  // A symlink inside the pod's directory that points outside it.
  ASSERT_EQ(symlink("/etc", (pod_dir_ + "/volumes/v/escape").c_str()), 0);
  c.security.mounts = {{"/etc", pod_dir_ + "/volumes/v/escape", true}};
  ExpectViolation(PssLevel::kBaseline, c, "(resolves to /etc)");
  c.security.mounts = {{"/etc", pod_dir_ + "/volumes/v/escape/ssl", true}};
  ExpectViolation(PssLevel::kBaseline, c, "(resolves to /etc/ssl)");

  // An exception: a host path allowed read-only.
  WorkloadProfile p;
  p.host_paths = {{dir_.path() + "/srv/data", true}};
  c.security.mounts = {{"/data", dir_.path() + "/srv/data/sub", true}};
  EXPECT_EQ(Check(PssLevel::kBaseline, c, &p), std::nullopt);
  c.security.mounts[0].readonly = false;
  ExpectViolation(PssLevel::kBaseline, c, "read-write at /data", &p);
  c.security.mounts = {{"/data", dir_.path() + "/srv/database", true}};  // a sibling, not below
  ExpectViolation(PssLevel::kBaseline, c, "mounts host path", &p);
}

TEST_F(WorkloadProfileTest, DevicesNeedAnException) {
  ContainerInfo c = Compliant();
  c.security.devices = {{"/dev/mem", "/dev/mem", "rwm"}};
  ExpectViolation(PssLevel::kBaseline, c,
                  "is given host device /dev/mem (devices[0]; allowed: none)");
  WorkloadProfile p;
  p.devices = {"/dev/mem"};
  EXPECT_EQ(Check(PssLevel::kBaseline, c, &p), std::nullopt);
  EXPECT_EQ(Check(PssLevel::kPrivileged, c), std::nullopt);
}

TEST_F(WorkloadProfileTest, SeccompBothFormsBaselineNotUnconfinedRestrictedExplicit) {
  ContainerInfo c = Compliant();
  c.security.seccomp = {Profile(Kind::kUnconfined, "seccomp")};
  ExpectViolation(PssLevel::kBaseline, c,
                  "sets seccomp Unconfined (linux.security_context.seccomp)");
  c.security.seccomp = {Profile(Kind::kUnconfined, "seccomp_profile_path")};
  ExpectViolation(PssLevel::kBaseline, c, "(linux.security_context.seccomp_profile_path)");
  // One form RuntimeDefault, the other unconfined: refused.
  c.security.seccomp = {Profile(Kind::kRuntimeDefault),
                        Profile(Kind::kUnconfined, "seccomp_profile_path")};
  ExpectViolation(PssLevel::kRestricted, c, "Unconfined");
  // Unset: baseline accepts, restricted wants it set explicitly.
  c.security.seccomp.clear();
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  ExpectViolation(PssLevel::kRestricted, c, "sets no seccomp profile");
  c.security.seccomp = {Profile(Kind::kLocalhost, "seccomp_profile_path")};
  EXPECT_EQ(Check(PssLevel::kRestricted, c), std::nullopt);
  Confinement unknown = Profile(Kind::kUnknown, "seccomp_profile_path");
  unknown.localhost_ref = "/var/lib/profile.json";
  c.security.seccomp = {unknown};
  ExpectViolation(
      PssLevel::kBaseline, c,
      "sets seccomp profile '/var/lib/profile.json', which is not one containerd knows");
  WorkloadProfile p;
  p.allow_unconfined_seccomp = true;
  c.security.seccomp = {Profile(Kind::kUnconfined)};
  EXPECT_EQ(Check(PssLevel::kRestricted, c, &p), std::nullopt);
}

TEST_F(WorkloadProfileTest, AppArmorNotUnconfinedInEitherForm) {
  ContainerInfo c = Compliant();
  c.security.apparmor = {Profile(Kind::kUnconfined, "apparmor_profile")};
  ExpectViolation(PssLevel::kBaseline, c,
                  "sets AppArmor Unconfined (linux.security_context.apparmor_profile)");
  c.security.apparmor = {Profile(Kind::kUnconfined, "apparmor")};
  ExpectViolation(PssLevel::kRestricted, c, "(linux.security_context.apparmor)");
  c.security.apparmor = {Profile(Kind::kRuntimeDefault, "apparmor")};
  EXPECT_EQ(Check(PssLevel::kRestricted, c), std::nullopt);
}

TEST_F(WorkloadProfileTest, SeLinuxTypesAndNoUserOrRole) {
  ContainerInfo c = Compliant();
  c.security.selinux.type = "spc_t";
  ExpectViolation(PssLevel::kBaseline, c, "sets SELinux type spc_t");
  c.security.selinux.type = "container_t";
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  c.security.selinux.user = "system_u";
  ExpectViolation(PssLevel::kBaseline, c, "sets SELinux user system_u");
  c.security.selinux.user.clear();
  c.security.selinux.role = "system_r";
  ExpectViolation(PssLevel::kBaseline, c, "sets SELinux role system_r");
  WorkloadProfile p;
  p.selinux_types = {"spc_t"};
  c.security.selinux = {"", "", "spc_t", ""};
  EXPECT_EQ(Check(PssLevel::kBaseline, c, &p), std::nullopt);
}

TEST_F(WorkloadProfileTest, ProcMaskedAndReadonlyPathsMayNotBeEmptied) {
  ContainerInfo c = Compliant();
  c.security.masked_paths = {"/proc/kcore"};
  ExpectViolation(PssLevel::kBaseline, c, "unmasks /proc/acpi (masked_paths leaves it out");
  // No list at all: containerd masks nothing.
  c.security.masked_paths.clear();
  ExpectViolation(PssLevel::kBaseline, c, "unmasks /proc/acpi (masked_paths is not set");
  c = Compliant();
  c.security.readonly_paths = {"/proc/bus", "/proc/fs"};
  ExpectViolation(PssLevel::kBaseline, c, "makes writable /proc/irq (readonly_paths");
  EXPECT_EQ(Check(PssLevel::kPrivileged, c), std::nullopt);
  WorkloadProfile p;
  p.allow_unmasked_proc = true;
  EXPECT_EQ(Check(PssLevel::kBaseline, c, &p), std::nullopt);
  c.security.readonly_paths = {"/proc/bus",           "/proc/fs",   "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger", "/proc/extra"};
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);  // a superset adds protection
}

TEST_F(WorkloadProfileTest, RestrictedRunsAsNonRootAskingTheImageWhenTheRequestIsSilent) {
  ContainerInfo c = Compliant();
  c.security.run_as_user = 0;
  ExpectViolation(PssLevel::kRestricted, c, "runs as uid 0 (linux.security_context.run_as_user)");
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  c.security.run_as_user.reset();
  ExpectViolation(PssLevel::kRestricted, c, "the image's user is root");
  image_.uid = 1000;
  EXPECT_EQ(Check(PssLevel::kRestricted, c), std::nullopt);
  image_.uid.reset();
  image_.username = "app";
  ExpectViolation(PssLevel::kRestricted, c, "the image's user 'app' is a name");
  c.security.run_as_username = "root";
  ExpectViolation(PssLevel::kRestricted, c, "runs as root");
  WorkloadProfile p;
  p.allow_root = true;
  EXPECT_EQ(Check(PssLevel::kRestricted, c, &p), std::nullopt);
  // A tightening of its own at baseline.
  WorkloadProfile strict;
  strict.require_non_root = true;
  ExpectViolation(PssLevel::kBaseline, c, "rule requirement: container \"web\" runs as root",
                  &strict);
}

TEST_F(WorkloadProfileTest, RestrictedNeedsNoNewPrivs) {
  ContainerInfo c = Compliant();
  c.security.no_new_privs = false;
  ExpectViolation(PssLevel::kRestricted, c,
                  "may gain privileges (linux.security_context.no_new_privs must be true)");
  EXPECT_EQ(Check(PssLevel::kBaseline, c), std::nullopt);
  WorkloadProfile p;
  p.allow_privilege_escalation = true;
  EXPECT_EQ(Check(PssLevel::kRestricted, c, &p), std::nullopt);
  WorkloadProfile strict;
  strict.require_no_new_privs = true;
  ExpectViolation(PssLevel::kPrivileged, c, "no_new_privs required", &strict);
}

TEST_F(WorkloadProfileTest, ReadonlyRootfsIsAnOptionalRequirement) {
  ContainerInfo c = Compliant();
  WorkloadProfile p;
  p.require_readonly_rootfs = true;
  ExpectViolation(PssLevel::kPrivileged, c, "has a writable root file system", &p);
  c.security.readonly_rootfs = true;
  EXPECT_EQ(Check(PssLevel::kRestricted, c, &p), std::nullopt);
}

TEST_F(WorkloadProfileTest, PodLevelSysctlsHostPortsAndUser) {
  PodInfo pod = Pod();
  pod.security.sysctls = {{"kernel.shm_rmid_forced", "1"}};
  EXPECT_EQ(CheckPodSecurity(Level(PssLevel::kBaseline), pod), std::nullopt);
  pod.security.sysctls["kernel.msgmax"] = "1";
  std::optional<std::string> v = CheckPodSecurity(Level(PssLevel::kBaseline), pod);
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("baseline: pod \"shop\" sets sysctl kernel.msgmax=1 (linux.sysctls"),
            std::string::npos)
      << *v;
  WorkloadProfile p;
  p.sysctls = {"kernel.msgmax"};
  EXPECT_EQ(CheckPodSecurity(p, pod), std::nullopt);
  EXPECT_EQ(CheckPodSecurity(Level(PssLevel::kPrivileged), pod), std::nullopt);

  pod = Pod();
  pod.security.host_ports = {8080};
  v = CheckPodSecurity(Level(PssLevel::kBaseline), pod);
  ASSERT_TRUE(v);
  EXPECT_NE(v->find("maps host port 8080 (port_mappings; allowed: none)"), std::string::npos) << *v;
  p = WorkloadProfile();
  p.host_ports = {8080};
  EXPECT_EQ(CheckPodSecurity(p, pod), std::nullopt);

  pod = Pod();
  pod.security.run_as_user = 0;
  EXPECT_EQ(CheckPodSecurity(Level(PssLevel::kBaseline), pod), std::nullopt);
  EXPECT_TRUE(CheckPodSecurity(Level(PssLevel::kRestricted), pod));
  pod.security.seccomp = {Profile(Kind::kUnconfined)};
  EXPECT_TRUE(CheckPodSecurity(Level(PssLevel::kBaseline), pod));

  // At CreateContainer the real pod's fields are judged too.
  PodInfo unsafe = Pod();
  unsafe.security.sysctls = {{"kernel.msgmax", "1"}};
  WorkloadContext context;
  EXPECT_TRUE(CheckContainerSecurity(Level(PssLevel::kBaseline), Compliant(), unsafe, context));
}

TEST(ResolveHostPath, FollowsLinksAndDotsAsTheKernelWould) {
  testing::TempDir dir;
  const std::string d = dir.path();
  ASSERT_EQ(mkdir((d + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((d + "/a/b").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/etc", (d + "/a/b/abs").c_str()), 0);
  ASSERT_EQ(symlink("../..", (d + "/a/b/up").c_str()), 0);
  ASSERT_EQ(symlink("loop", (d + "/a/loop").c_str()), 0);
  std::string real = ResolveHostPath(d);  // TMPDIR itself may be a link
  EXPECT_EQ(ResolveHostPath(d + "/a/b/abs/ssl"), "/etc/ssl");
  EXPECT_EQ(ResolveHostPath(d + "/a/b/up"), real);
  // ".." after a link leaves from the link's target, not from its name.
  EXPECT_EQ(ResolveHostPath(d + "/a/b/abs/.."), "/");
  EXPECT_EQ(ResolveHostPath(d + "/a/./b/../b"), real + "/a/b");
  EXPECT_EQ(ResolveHostPath(d + "/a/missing/../../a"), real + "/a");
  EXPECT_EQ(ResolveHostPath("/../../etc"), "/etc");
  EXPECT_EQ(ResolveHostPath(d + "/a/loop"), "");
  EXPECT_EQ(ResolveHostPath("relative/path"), "");
  EXPECT_TRUE(IsWithin("/var/lib/kubelet/pods/u", "/var/lib/kubelet/pods/u"));
  EXPECT_TRUE(IsWithin("/var/lib/kubelet/pods/u/v", "/var/lib/kubelet/pods/u"));
  EXPECT_FALSE(IsWithin("/var/lib/kubelet/pods/u2", "/var/lib/kubelet/pods/u"));
}

}  // namespace
}  // namespace crigate::policy
