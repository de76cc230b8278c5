#include "policy/cloud/authz_input.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <random>

namespace crigate::cloud {
namespace {

using nlohmann::json;

std::string Dump(const json& j) {
  // Replace, never throw, on invalid UTF-8 from the request.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Labels(const std::map<std::string, std::string>& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

json PodJson(const policy::PodInfo& pod) {
  return {{"name", pod.name},
          {"namespace", pod.namespace_},
          {"uid", pod.uid},
          {"labels", Labels(pod.labels)},
          {"privileged", pod.privileged},
          {"host_network", pod.host.host_network},
          {"host_pid", pod.host.host_pid},
          {"host_ipc", pod.host.host_ipc},
          {"runtime_handler", pod.runtime_handler}};
}

json ContainerJson(const policy::ContainerInfo& c, const std::string& id) {
  return {{"id", id},
          {"name", c.name},
          {"labels", Labels(c.labels)},
          {"privileged", c.privileged},
          {"capabilities", c.added_capabilities},
          {"host_network", c.host.host_network},
          {"host_pid", c.host.host_pid},
          {"host_ipc", c.host.host_ipc},
          {"resources",
           {{"cpu_period", c.resources.cpu_period},
            {"cpu_quota", c.resources.cpu_quota},
            {"cpu_shares", c.resources.cpu_shares},
            {"memory_limit_bytes", c.resources.memory_limit_bytes}}}};
}

}  // namespace

std::string AuthzInput::RequestBody() const {
  json body = {{"input", input}};
  body["input"]["nonce"] = nonce;
  return Dump(body);
}

std::string AuthzInput::CacheKey() const {
  std::string text = Dump(input);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (!EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr)) return text;
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string NewNonce() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

AuthzInput BuildAuthzInput(const policy::GateRequest& request, const policy::CallState& state,
                           const NodeIdentity& node) {
  const policy::ExistingContainer* existing =
      state.existing_container ? &*state.existing_container : nullptr;

  json caller = {{"known", request.caller.known}};
  if (request.caller.known) {
    caller["uid"] = request.caller.uid;
    caller["gid"] = request.caller.gid;
    caller["pid"] = request.caller.pid;
  }

  std::string ref = state.image_ref;
  if (ref.empty()) ref = request.image;
  if (ref.empty() && existing) ref = existing->image;
  std::string digest = state.image_digest;
  if (digest.empty() && existing) digest = existing->image_id;

  json pod = nullptr;
  if (request.pod) {
    pod = PodJson(*request.pod);
  } else if (existing && !existing->pod_namespace.empty()) {
    pod = {{"namespace", existing->pod_namespace}};
  }

  std::string container_id = request.container_id;
  if (container_id.empty() && existing) container_id = existing->id;
  json container = nullptr;
  if (request.container) {
    container = ContainerJson(*request.container, container_id);
  } else if (existing) {
    container = {{"id", existing->id}, {"labels", Labels(existing->labels)}};
  } else if (!container_id.empty()) {
    container = {{"id", container_id}};
  }

  json claims = nullptr;
  if (!state.token_claims_json.empty()) {
    claims = json::parse(state.token_claims_json, nullptr, /*allow_exceptions=*/false);
    if (claims.is_discarded()) claims = {{"unparsed", state.token_claims_json}};
  }

  std::string sandbox = request.pod_sandbox_id;
  if (sandbox.empty() && existing) sandbox = existing->pod_sandbox_id;

  AuthzInput out;
  out.input = {{"action", request.action},
               {"caller", std::move(caller)},
               {"image", {{"ref", ref}, {"digest", digest}}},
               {"pod", std::move(pod)},
               {"container", std::move(container)},
               {"node", {{"id", node.id}, {"mac", node.mac}}},
               {"token_claims", std::move(claims)}};
  if (!sandbox.empty()) out.input["pod_sandbox_id"] = sandbox;
  out.nonce = NewNonce();
  return out;
}

}  // namespace crigate::cloud
