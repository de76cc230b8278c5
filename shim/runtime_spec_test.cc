#include "shim/runtime_spec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace crigate::shim {
namespace {

using nlohmann::json;

const std::string kSandboxDir = "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/";

// A container spec as containerd 1.6's CRI writes it (trimmed).
json ContainerSpec() {
  return json::parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sleep", "300"],
                "env": ["PATH=/bin"], "cwd": "/",
                "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"],
                                 "effective": ["CAP_CHOWN"]},
                "noNewPrivileges": false, "oomScoreAdj": 1000},
    "root": {"path": "rootfs"},
    "hostname": "web",
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
      {"destination": "/etc/hosts", "type": "bind",
       "source": "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/hosts",
       "options": ["rbind", "rprivate", "rw"]},
      {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind"]}],
    "annotations": {"io.kubernetes.cri.container-type": "container"},
    "linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}],
                            "memory": {"limit": 1000}},
              "cgroupsPath": "/k8s.io/abc",
              "namespaces": [{"type": "pid", "path": "/proc/42/ns/pid"}, {"type": "ipc"},
                             {"type": "uts"}, {"type": "mount"},
                             {"type": "network", "path": "/proc/42/ns/net"}],
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}
  })");
}

ShapeRules ContainerRules() {
  ShapeRules rules;
  rules.check_args = true;
  rules.args = {"sleep", "300"};
  rules.namespace_path_prefix = "/proc/42/ns/";
  rules.bind_sources = {"/srv/data"};
  rules.bind_prefixes = {kSandboxDir};
  return rules;
}

TEST(SpecDigestTest, IgnoresKeyOrderAndSpacingButNotContent) {
  const json spec = ContainerSpec();
  const std::string digest = SpecDigest(spec, "c1");
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(digest.size(), 7u + 64u);
  // The same spec re-encoded with other spacing parses to the same digest.
  json reparsed;
  ASSERT_TRUE(ParseRuntimeSpec(spec.dump(2), &reparsed).ok());
  EXPECT_EQ(SpecDigest(reparsed, "c1"), digest);
  // Another container id, another digest.
  EXPECT_NE(SpecDigest(spec, "c2"), digest);
}

TEST(SpecDigestTest, BindsWhatRunsAndNotWhatDoesNot) {
  const json spec = ContainerSpec();
  const std::string digest = SpecDigest(spec, "c1");
  auto changed = [&](auto edit) {
    json s = spec;
    edit(s);
    return SpecDigest(s, "c1");
  };
  // Bound: command, env, mounts, namespaces, capabilities, hooks, root.
  EXPECT_NE(changed([](json& s) { s["process"]["args"] = {"sh", "-c", "id"}; }), digest);
  EXPECT_NE(changed([](json& s) { s["process"]["env"].push_back("LD_PRELOAD=/x.so"); }), digest);
  EXPECT_NE(
      changed([](json& s) {
        s["mounts"].push_back({{"destination", "/host"}, {"type", "bind"}, {"source", "/etc"}});
      }),
      digest);
  EXPECT_NE(changed([](json& s) { s["linux"]["namespaces"].erase(4); }), digest);
  EXPECT_NE(
      changed([](json& s) { s["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN"); }),
      digest);
  EXPECT_NE(changed([](json& s) { s["hooks"]["prestart"] = {{{"path", "/bin/sh"}}}; }), digest);
  EXPECT_NE(changed([](json& s) { s["root"]["readonly"] = true; }), digest);
  EXPECT_NE(changed([](json& s) { s["linux"]["resources"]["devices"][0]["allow"] = true; }),
            digest);
  EXPECT_NE(changed([](json& s) {
              s["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
            }),
            digest);
  // Not bound: resource limits (the watchdog's business), hostname,
  // annotations, the cgroup path.
  EXPECT_EQ(changed([](json& s) { s["linux"]["resources"]["memory"]["limit"] = 5; }), digest);
  EXPECT_EQ(changed([](json& s) { s["hostname"] = "other"; }), digest);
  EXPECT_EQ(changed([](json& s) { s["annotations"]["x"] = "y"; }), digest);
  EXPECT_EQ(changed([](json& s) { s["linux"]["cgroupsPath"] = "/other"; }), digest);
}

TEST(SpecDigestTest, NullAndAbsentAreTheSame) {
  json spec = ContainerSpec();
  const std::string digest = SpecDigest(spec, "c1");
  spec["hooks"] = nullptr;
  EXPECT_EQ(SpecDigest(spec, "c1"), digest);
}

TEST(ParseRuntimeSpecTest, RefusesWhatIsNotAnObject) {
  json spec;
  EXPECT_TRUE(ParseRuntimeSpec("[1,2]", &spec).code() == base::Code::INTERNAL);
  EXPECT_TRUE(ParseRuntimeSpec("{\"a\":", &spec).code() == base::Code::INTERNAL);
  EXPECT_TRUE(ParseRuntimeSpec(std::string(kMaxSpecBytes + 1, ' '), &spec).code() ==
              base::Code::INTERNAL);
  EXPECT_TRUE(ParseRuntimeSpec("{}", &spec).ok());
}

TEST(SpecShapeTest, ContainerdsOwnSpecFits) {
  EXPECT_EQ(CheckSpecShape(ContainerSpec(), ContainerRules()), "");
  EXPECT_EQ(CriContainerType(ContainerSpec()), "container");
}

TEST(SpecShapeTest, RefusesHooks) {
  json spec = ContainerSpec();
  spec["hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}}}}};
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("createRuntime hooks"), std::string::npos);
  spec["hooks"] = {{"prestart", json::array()}};
  EXPECT_EQ(CheckSpecShape(spec, ContainerRules()), "");
}

TEST(SpecShapeTest, RefusesAnotherCommand) {
  json spec = ContainerSpec();
  spec["process"]["args"] = {"sh", "-c", "cat /host/shadow"};
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("process.args"), std::string::npos);
  ShapeRules any_args = ContainerRules();
  any_args.check_args = false;
  EXPECT_EQ(CheckSpecShape(spec, any_args), "");
}

TEST(SpecShapeTest, RefusesHostPathsNotApproved) {
  for (const char* source :
       {"/etc", "/srv/data/../../etc",
        "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/../x",
        "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb2/hosts", "relative"}) {
    json spec = ContainerSpec();
    spec["mounts"].push_back(
        {{"destination", "/host"}, {"type", "none"}, {"source", source}, {"options", {"rbind"}}});
    EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("binds host path"), std::string::npos)
        << source;
  }
  json spec = ContainerSpec();
  spec["mounts"].push_back({{"destination", "/disk"}, {"type", "ext4"}, {"source", "/dev/sda1"}});
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("type ext4"), std::string::npos);
}

TEST(SpecShapeTest, RefusesHostNamespacesAndForeignNamespacePaths) {
  json spec = ContainerSpec();
  spec["linux"]["namespaces"].erase(4);  // no network entry: the host's
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("host's network"), std::string::npos);
  ShapeRules host_net = ContainerRules();
  host_net.host_namespaces = {"network"};
  EXPECT_EQ(CheckSpecShape(spec, host_net), "");

  spec = ContainerSpec();
  spec["linux"]["namespaces"][0]["path"] = "/proc/1/ns/pid";
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("joins /proc/1/ns/pid"), std::string::npos);
  spec["linux"]["namespaces"][0]["path"] = "/proc/42/ns/../../1/ns/pid";
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()), "");
  // "mount" can never be the host's.
  spec = ContainerSpec();
  spec["linux"]["namespaces"].erase(3);
  host_net.host_namespaces = {"network", "pid", "ipc", "mount"};
  EXPECT_NE(CheckSpecShape(spec, host_net).find("host's mount"), std::string::npos);
}

TEST(SpecShapeTest, CapabilitiesAndDevicesNeedApprovalUnlessPrivileged) {
  json spec = ContainerSpec();
  spec["process"]["capabilities"]["permitted"] = {"CAP_SYS_ADMIN"};
  spec["linux"]["devices"] = {{{"path", "/dev/sda"}, {"type", "b"}}};
  ShapeRules rules = ContainerRules();
  EXPECT_NE(CheckSpecShape(spec, rules).find("CAP_SYS_ADMIN"), std::string::npos);
  rules.extra_capabilities = {"CAP_SYS_ADMIN"};
  EXPECT_NE(CheckSpecShape(spec, rules).find("/dev/sda"), std::string::npos);
  rules.device_paths = {"/dev/sda"};
  EXPECT_EQ(CheckSpecShape(spec, rules), "");
  ShapeRules privileged = ContainerRules();
  privileged.privileged = true;
  EXPECT_EQ(CheckSpecShape(spec, privileged), "");
}

TEST(SpecShapeTest, KeysAreMatchedAsRuncMatchesThem) {
  // runc's Go decoder fills `hooks` from "Hooks": so do the checks and the
  // digest.
  json spec = ContainerSpec();
  const std::string plain = SpecDigest(spec, "c1");
  spec["Hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}}}}};
  json parsed;
  ASSERT_TRUE(ParseRuntimeSpec(spec.dump(), &parsed).ok());
  EXPECT_NE(CheckSpecShape(parsed, ContainerRules()).find("createRuntime hooks"),
            std::string::npos);
  EXPECT_NE(SpecDigest(parsed, "c1"), plain);
  json mounts = ContainerSpec();
  mounts.erase("mounts");
  mounts["Mounts"] = {{{"destination", "/host"}, {"Type", "bind"}, {"Source", "/"}}};
  EXPECT_NE(CheckSpecShape(mounts, ContainerRules()).find("binds host path \"/\""),
            std::string::npos);
  // Two keys runc would fold together, or a key that is not ASCII (Go folds
  // the Kelvin sign into k), are refused outright.
  EXPECT_TRUE(
      IsRefusal(ParseRuntimeSpec(R"({"hooks":{},"Hooks":{"prestart":[{"path":"/x"}]}})", &parsed)));
  EXPECT_TRUE(IsRefusal(ParseRuntimeSpec("{\"process\":{\"\xe2\x84\xaaill\":1}}", &parsed)));
  EXPECT_TRUE(ParseRuntimeSpec(R"({"annotations":{"a":"1","b":"2"}})", &parsed).ok());
}

TEST(SpecShapeTest, ASandboxMayJoinOnlyItsCniNetworkNamespace) {
  ShapeRules rules;
  rules.check_args = false;
  rules.network_path_prefixes = {"/var/run/netns/"};
  json spec = ContainerSpec();
  spec["linux"]["namespaces"] = {{{"type", "pid"}},
                                 {{"type", "ipc"}},
                                 {{"type", "uts"}},
                                 {{"type", "mount"}},
                                 {{"type", "network"}, {"path", "/var/run/netns/cni-1234"}}};
  rules.bind_sources = {"/srv/data"};
  rules.bind_prefixes = {kSandboxDir};
  EXPECT_EQ(CheckSpecShape(spec, rules), "");
  spec["linux"]["namespaces"][4]["path"] = "/proc/1/ns/net";
  EXPECT_NE(CheckSpecShape(spec, rules).find("joins /proc/1/ns/net"), std::string::npos);
  spec["linux"]["namespaces"][4]["path"] = "/var/run/netns/../../proc/1/ns/net";
  EXPECT_NE(CheckSpecShape(spec, rules), "");
  // Only the network namespace: not a pid namespace under the same directory.
  spec["linux"]["namespaces"][4]["path"] = "/var/run/netns/cni-1234";
  spec["linux"]["namespaces"][0]["path"] = "/var/run/netns/cni-1234";
  EXPECT_NE(CheckSpecShape(spec, rules).find("pid namespace joins"), std::string::npos);
}

TEST(SpecShapeTest, RefusesAnotherRoot) {
  json spec = ContainerSpec();
  spec["root"]["path"] = "/";
  EXPECT_NE(CheckSpecShape(spec, ContainerRules()).find("root.path"), std::string::npos);
}

}  // namespace
}  // namespace crigate::shim
