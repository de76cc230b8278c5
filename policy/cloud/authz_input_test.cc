#include "policy/cloud/authz_input.h"

#include <gtest/gtest.h>

namespace crigate::cloud {
namespace {

using nlohmann::json;

policy::GateRequest CreateContainer() {
  policy::GateRequest r;
  r.method = "/runtime.v1.RuntimeService/CreateContainer";
  r.action = "CreateContainer";
  r.caller = {4242, 0, 0, true};
  r.image = "busybox";
  r.pod_sandbox_id = "sb1";
  policy::PodInfo pod;
  pod.name = "web";
  pod.uid = "u1";
  pod.namespace_ = "default";
  pod.labels = {{"app", "web"}};
  pod.annotations = {{"crigate.io/token", "secret"}};
  r.pod = pod;
  policy::ContainerInfo c;
  c.name = "main";
  c.labels = {{"tier", "front"}};
  c.annotations = {{"crigate.io/token", "secret"}};
  c.privileged = true;
  c.added_capabilities = {"NET_ADMIN"};
  c.resources.memory_limit_bytes = 1 << 20;
  r.container = c;
  return r;
}

TEST(AuthzInput, CarriesTheWireFormat) {
  policy::CallState state;
  state.image_ref = "docker.io/library/busybox:latest";
  state.image_digest = "sha256:abc";
  state.token_claims_json = R"({"sub":"ops","jti":"j1"})";
  AuthzInput in = BuildAuthzInput(CreateContainer(), state, {"edge-1", "02:00:00:00:00:01"});
  const json body = json::parse(in.RequestBody());
  const json& i = body.at("input");
  EXPECT_EQ(i["action"], "CreateContainer");
  EXPECT_EQ(i["caller"], json({{"known", true}, {"uid", 0}, {"gid", 0}, {"pid", 4242}}));
  EXPECT_EQ(i["image"],
            json({{"ref", "docker.io/library/busybox:latest"}, {"digest", "sha256:abc"}}));
  EXPECT_EQ(i["pod"]["name"], "web");
  EXPECT_EQ(i["pod"]["namespace"], "default");
  EXPECT_EQ(i["pod"]["uid"], "u1");
  EXPECT_EQ(i["pod"]["labels"], json({{"app", "web"}}));
  EXPECT_EQ(i["container"]["name"], "main");
  EXPECT_EQ(i["container"]["privileged"], true);
  EXPECT_EQ(i["container"]["capabilities"], json({"NET_ADMIN"}));
  EXPECT_EQ(i["container"]["resources"]["memory_limit_bytes"], 1 << 20);
  EXPECT_EQ(i["node"], json({{"id", "edge-1"}, {"mac", "02:00:00:00:00:01"}}));
  EXPECT_EQ(i["token_claims"], json({{"sub", "ops"}, {"jti", "j1"}}));
  EXPECT_EQ(i["pod_sandbox_id"], "sb1");
  EXPECT_EQ(i["nonce"].get<std::string>().size(), 32u);
  // Annotations carry the token itself: never sent.
  EXPECT_EQ(in.RequestBody().find("secret"), std::string::npos);
}

TEST(AuthzInput, ContainerIdCallsUseTheExistingContainer) {
  policy::GateRequest r;
  r.action = "StartContainer";
  r.container_id = "c1";
  policy::CallState state;
  policy::ExistingContainer existing;
  existing.id = "c1";
  existing.image = "busybox";
  existing.image_id = "sha256:def";
  existing.pod_namespace = "kube-system";
  existing.pod_sandbox_id = "sb9";
  existing.labels = {{"a", "b"}};
  state.existing_container = existing;
  const json i = BuildAuthzInput(r, state, {"n", ""}).input;
  EXPECT_EQ(i["caller"], json({{"known", false}}));
  EXPECT_EQ(i["image"]["ref"], "busybox");
  EXPECT_EQ(i["image"]["digest"], "sha256:def");
  EXPECT_EQ(i["pod"]["namespace"], "kube-system");
  EXPECT_EQ(i["container"], json({{"id", "c1"}, {"labels", {{"a", "b"}}}}));
  EXPECT_EQ(i["pod_sandbox_id"], "sb9");
  EXPECT_TRUE(i["token_claims"].is_null());
}

TEST(AuthzInput, CacheKeyIgnoresOnlyTheNonce) {
  policy::CallState state;
  AuthzInput a = BuildAuthzInput(CreateContainer(), state, {"n", "m"});
  AuthzInput b = BuildAuthzInput(CreateContainer(), state, {"n", "m"});
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_EQ(a.CacheKey(), b.CacheKey());
  EXPECT_EQ(a.CacheKey().size(), 32u);

  policy::GateRequest other_uid = CreateContainer();
  other_uid.caller.uid = 1000;
  EXPECT_NE(BuildAuthzInput(other_uid, state, {"n", "m"}).CacheKey(), a.CacheKey());
  policy::GateRequest other_label = CreateContainer();
  other_label.pod->labels["app"] = "db";
  EXPECT_NE(BuildAuthzInput(other_label, state, {"n", "m"}).CacheKey(), a.CacheKey());
  policy::CallState other_token;
  other_token.token_claims_json = R"({"jti":"j2"})";
  EXPECT_NE(BuildAuthzInput(CreateContainer(), other_token, {"n", "m"}).CacheKey(), a.CacheKey());
  policy::CallState other_digest;
  other_digest.image_digest = "sha256:1";
  EXPECT_NE(BuildAuthzInput(CreateContainer(), other_digest, {"n", "m"}).CacheKey(), a.CacheKey());
}

TEST(AuthzInput, BadClaimsAndBadUtf8DoNotThrow) {
  policy::GateRequest r = CreateContainer();
  r.pod->labels["bad"] = "\xff\xfe";
  policy::CallState state;
  state.token_claims_json = "{not json";
  AuthzInput in = BuildAuthzInput(r, state, {"n", "m"});
  EXPECT_EQ(in.input["token_claims"]["unparsed"], "{not json");
  EXPECT_NO_THROW(in.RequestBody());
  EXPECT_NO_THROW(in.CacheKey());
}

}  // namespace
}  // namespace crigate::cloud
