#include "cri/inspect.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "cri_subset.pb.h"

namespace crigate::cri {
namespace {

namespace v1 = ::runtime::v1;
using Kind = policy::Confinement::Kind;

std::string Buffer(const google::protobuf::Message& message) { return message.SerializeAsString(); }

TEST(InspectRequest, EveryContainerSecurityFieldInBothForms) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id("abc");
  auto* c = req.mutable_config();
  c->mutable_metadata()->set_name("web");
  c->mutable_metadata()->set_attempt(2);
  c->mutable_image()->set_image("busybox");
  auto* m = c->add_mounts();
  m->set_host_path("/srv");
  m->set_container_path("/data");
  m->set_readonly(true);
  auto* d = c->add_devices();
  d->set_host_path("/dev/ttyUSB0");
  d->set_container_path("/dev/tty0");
  d->set_permissions("rw");
  auto* sc = c->mutable_linux()->mutable_security_context();
  sc->mutable_capabilities()->add_add_capabilities("NET_ADMIN");
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  sc->mutable_capabilities()->add_add_ambient_capabilities("NET_RAW");
  sc->mutable_selinux_options()->set_type("spc_t");
  sc->mutable_selinux_options()->set_user("system_u");
  sc->mutable_run_as_user()->set_value(1000);
  sc->set_run_as_username("app");
  sc->set_readonly_rootfs(true);
  sc->set_no_new_privs(true);
  sc->add_masked_paths("/proc/kcore");
  sc->add_readonly_paths("/proc/sys");
  sc->mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  sc->mutable_seccomp()->set_localhost_ref("profiles/a.json");
  sc->set_seccomp_profile_path("unconfined");
  sc->mutable_apparmor()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  sc->set_apparmor_profile("localhost/k8s-apparmor");
  auto* pod = req.mutable_sandbox_config();
  pod->mutable_metadata()->set_name("shop");
  (*pod->mutable_linux()->mutable_sysctls())["kernel.msgmax"] = "1";
  pod->add_port_mappings()->set_host_port(8080);
  pod->add_port_mappings()->set_container_port(80);  // no host port: not counted
  auto* psc = pod->mutable_linux()->mutable_security_context();
  psc->set_seccomp_profile_path("runtime/default");
  psc->mutable_run_as_user()->set_value(0);
  psc->mutable_selinux_options()->set_role("system_r");

  policy::GateRequest out;
  ASSERT_TRUE(InspectRequest("CreateContainer", Buffer(req), &out).ok());
  ASSERT_TRUE(out.container && out.pod);
  const policy::ContainerSecurity& s = out.container->security;
  EXPECT_EQ(out.container->attempt, 2u);
  EXPECT_EQ(s.add_capabilities, std::vector<std::string>{"NET_ADMIN"});
  EXPECT_EQ(s.drop_capabilities, std::vector<std::string>{"ALL"});
  EXPECT_EQ(s.ambient_capabilities, std::vector<std::string>{"NET_RAW"});
  EXPECT_EQ(s.selinux.type, "spc_t");
  EXPECT_EQ(s.selinux.user, "system_u");
  EXPECT_EQ(s.run_as_user, 1000);
  EXPECT_EQ(s.run_as_username, "app");
  EXPECT_TRUE(s.readonly_rootfs);
  EXPECT_TRUE(s.no_new_privs);
  EXPECT_EQ(s.masked_paths, std::vector<std::string>{"/proc/kcore"});
  EXPECT_EQ(s.readonly_paths, std::vector<std::string>{"/proc/sys"});
  ASSERT_EQ(s.mounts.size(), 1u);
  EXPECT_EQ(s.mounts[0].host_path, "/srv");
  EXPECT_TRUE(s.mounts[0].readonly);
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].host_path, "/dev/ttyUSB0");
  // Both seccomp forms, each naming its field.
  ASSERT_EQ(s.seccomp.size(), 2u);
  EXPECT_EQ(s.seccomp[0].kind, Kind::kLocalhost);
  EXPECT_EQ(s.seccomp[0].localhost_ref, "profiles/a.json");
  EXPECT_EQ(s.seccomp[0].field, "seccomp");
  EXPECT_EQ(s.seccomp[1].kind, Kind::kUnconfined);
  EXPECT_EQ(s.seccomp[1].field, "seccomp_profile_path");
  ASSERT_EQ(s.apparmor.size(), 2u);
  EXPECT_EQ(s.apparmor[0].kind, Kind::kRuntimeDefault);
  EXPECT_EQ(s.apparmor[1].kind, Kind::kLocalhost);
  EXPECT_EQ(s.apparmor[1].field, "apparmor_profile");
  // The pod's, from the caller's sandbox_config (a claim, judged elsewhere).
  const policy::PodSecurity& p = out.pod->security;
  EXPECT_EQ(p.sysctls.at("kernel.msgmax"), "1");
  EXPECT_EQ(p.host_ports, std::vector<int32_t>{8080});
  ASSERT_EQ(p.seccomp.size(), 1u);
  EXPECT_EQ(p.seccomp[0].kind, Kind::kRuntimeDefault);
  EXPECT_EQ(p.run_as_user, 0);
  EXPECT_EQ(p.selinux.role, "system_r");
}

TEST(InspectRequest, UnsetProfilesAreNotConfinementsAndUnknownStringsAreNamed) {
  v1::CreateContainerRequest req;
  req.mutable_config()->mutable_metadata()->set_name("web");
  policy::GateRequest out;
  ASSERT_TRUE(InspectRequest("CreateContainer", Buffer(req), &out).ok());
  EXPECT_TRUE(out.container->security.seccomp.empty());
  EXPECT_FALSE(out.container->security.run_as_user);

  req.mutable_config()->mutable_linux()->mutable_security_context()->set_seccomp_profile_path(
      "/etc/profile.json");
  ASSERT_TRUE(InspectRequest("CreateContainer", Buffer(req), &out).ok());
  ASSERT_EQ(out.container->security.seccomp.size(), 1u);
  EXPECT_EQ(out.container->security.seccomp[0].kind, Kind::kUnknown);
  EXPECT_EQ(out.container->security.seccomp[0].localhost_ref, "/etc/profile.json");
}

TEST(InspectRequest, AFieldTheGateReadsWithTheWrongWireTypeIsRefused) {
  v1::CreateContainerRequest req;
  auto* security = req.mutable_config()->mutable_linux()->mutable_security_context();
  // privileged (2) length-delimited instead of varint.
  security->GetReflection()->MutableUnknownFields(security)->AddLengthDelimited(2, "\x01");
  policy::GateRequest out;
  base::Status s = InspectRequest("CreateContainer", Buffer(req), &out);
  EXPECT_EQ(s.code(), base::Code::INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("config.linux.security_context.privileged arrived with the "
                             "wrong wire type"),
            std::string::npos)
      << s.message();
  // A field the subset does not declare is just unknown, whatever its type.
  v1::CreateContainerRequest other;
  auto* config = other.mutable_config();
  config->GetReflection()->MutableUnknownFields(config)->AddVarint(6, 1);  // envs, as a varint
  EXPECT_TRUE(InspectRequest("CreateContainer", Buffer(other), &out).ok());
  // A repeated message field: the index is named.
  v1::CreateContainerRequest mounts;
  auto* mount = mounts.mutable_config()->add_mounts();
  mount->GetReflection()->MutableUnknownFields(mount)->AddVarint(2, 7);  // host_path as a varint
  s = InspectRequest("CreateContainer", Buffer(mounts), &out);
  EXPECT_NE(s.message().find("config.mounts[0].host_path"), std::string::npos) << s.message();
}

TEST(StripTokenAnnotations, RemovesOnlyTheTokenAndKeepsUnknownFields) {
  v1::RunPodSandboxRequest req;
  auto* config = req.mutable_config();
  config->mutable_metadata()->set_name("web");
  (*config->mutable_annotations())["crigate.io/token"] = "secret.token.sig";
  (*config->mutable_annotations())["keep"] = "me";
  // dns_config (4), unknown to the subset.
  config->GetReflection()->MutableUnknownFields(config)->AddLengthDelimited(4, "\x0a\x03x.y");
  std::string out;
  bool stripped = false;
  ASSERT_TRUE(StripTokenAnnotations("RunPodSandbox", Buffer(req), &out, &stripped).ok());
  ASSERT_TRUE(stripped);
  v1::RunPodSandboxRequest back;
  ASSERT_TRUE(back.ParseFromString(out));
  EXPECT_EQ(back.config().annotations().count("crigate.io/token"), 0u);
  EXPECT_EQ(back.config().annotations().at("keep"), "me");
  const auto& unknown = back.config().GetReflection()->GetUnknownFields(back.config());
  ASSERT_EQ(unknown.field_count(), 1);
  EXPECT_EQ(unknown.field(0).number(), 4);
  EXPECT_EQ(unknown.field(0).length_delimited(), "\x0a\x03x.y");
  EXPECT_EQ(out.find("secret.token.sig"), std::string::npos);

  // No token: nothing re-encoded.
  std::string untouched;
  ASSERT_TRUE(StripTokenAnnotations("RunPodSandbox", Buffer(back), &untouched, &stripped).ok());
  EXPECT_FALSE(stripped);

  // CreateContainer: the container's, the image's and the sandbox config's.
  v1::CreateContainerRequest create;
  (*create.mutable_config()->mutable_annotations())["crigate.io/token"] = "a";
  (*create.mutable_config()->mutable_image()->mutable_annotations())["crigate.io/token"] = "b";
  (*create.mutable_sandbox_config()->mutable_annotations())["crigate.io/token"] = "c";
  ASSERT_TRUE(StripTokenAnnotations("CreateContainer", Buffer(create), &out, &stripped).ok());
  v1::CreateContainerRequest cleaned;
  ASSERT_TRUE(cleaned.ParseFromString(out));
  EXPECT_TRUE(cleaned.config().annotations().empty());
  EXPECT_TRUE(cleaned.config().image().annotations().empty());
  EXPECT_TRUE(cleaned.sandbox_config().annotations().empty());
}

// The proxy parses a request a second time only when inspection saw a
// token: the two must agree on every place a token can be.
TEST(CarriesTokenAnnotation, AgreesWithStripTokenAnnotationsEverywhere) {
  v1::CreateContainerRequest in_container, in_image, in_sandbox, none;
  (*in_container.mutable_config()->mutable_annotations())["crigate.io/token"] = "t";
  (*in_image.mutable_config()->mutable_image()->mutable_annotations())["crigate.io/token"] = "t";
  (*in_sandbox.mutable_sandbox_config()->mutable_annotations())["crigate.io/token"] = "t";
  (*none.mutable_config()->mutable_annotations())["other"] = "x";
  v1::PullImageRequest pull_image, pull_sandbox;
  (*pull_image.mutable_image()->mutable_annotations())["crigate.io/token"] = "t";
  (*pull_sandbox.mutable_sandbox_config()->mutable_annotations())["crigate.io/token"] = "t";
  v1::RemoveImageRequest remove;
  (*remove.mutable_image()->mutable_annotations())["crigate.io/token"] = "t";
  v1::RunPodSandboxRequest run;
  (*run.mutable_config()->mutable_annotations())["crigate.io/token"] = "t";
  const struct {
    const char* action;
    const google::protobuf::Message& request;
    bool token;
  } cases[] = {{"CreateContainer", in_container, true}, {"CreateContainer", in_image, true},
               {"CreateContainer", in_sandbox, true},   {"CreateContainer", none, false},
               {"PullImage", pull_image, true},         {"PullImage", pull_sandbox, true},
               {"RemoveImage", remove, true},           {"RunPodSandbox", run, true}};
  for (const auto& c : cases) {
    policy::GateRequest inspected;
    ASSERT_TRUE(InspectRequest(c.action, Buffer(c.request), &inspected).ok()) << c.action;
    std::string out;
    bool stripped = false;
    ASSERT_TRUE(StripTokenAnnotations(c.action, Buffer(c.request), &out, &stripped).ok());
    EXPECT_EQ(CarriesTokenAnnotation(inspected), c.token) << c.action;
    EXPECT_EQ(stripped, c.token) << c.action;
  }
}

// The "config" of containerd 1.6's verbose PodSandboxStatus on this machine:
// Go's encoding/json of the CRI struct (snake_case, enums as numbers, zero
// values left out), plus a field the subset does not know.
TEST(MessageFromRecordedJson, ReadsWhatContainerdRecorded) {
  const std::string recorded =
      R"({"metadata":{"name":"probe","uid":"probe-uid","namespace":"default","attempt":1},
    "labels":{"a":"b"},"dns_config":{"servers":["10.0.0.10"]},
    "linux":{"sysctls":{"kernel.shm_rmid_forced":"1"},
             "security_context":{"namespace_options":{"network":2},"privileged":true,
                                 "run_as_user":{"value":1000},"seccomp":{"profile_type":1}}}})";
  v1::PodSandboxConfig config;
  ASSERT_TRUE(MessageFromRecordedJson(recorded, &config).ok());
  policy::PodInfo pod = PodFromConfig(config);
  EXPECT_EQ(pod.name, "probe");
  EXPECT_EQ(pod.uid, "probe-uid");
  EXPECT_EQ(pod.attempt, 1u);
  EXPECT_EQ(pod.labels.at("a"), "b");
  EXPECT_TRUE(pod.host.host_network);
  EXPECT_FALSE(pod.host.host_pid);
  EXPECT_TRUE(pod.privileged);
  EXPECT_EQ(pod.security.run_as_user, 1000);
  EXPECT_EQ(pod.security.sysctls.at("kernel.shm_rmid_forced"), "1");
  ASSERT_EQ(pod.security.seccomp.size(), 1u);
  EXPECT_EQ(pod.security.seccomp[0].kind, Kind::kUnconfined);

  EXPECT_EQ(MessageFromRecordedJson("{not json", &config).code(), base::Code::UNAVAILABLE);
}

}  // namespace
}  // namespace crigate::cri
