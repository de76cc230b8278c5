#include "policy/testing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace crigate::policy::testing {

void FakeResolver::AddImage(const ImageIdentity& identity) {
  if (!identity.id.empty()) images_[identity.id] = identity;
  for (const auto& name : identity.repo_tags) images_[name] = identity;
  for (const auto& name : identity.repo_digests) images_[name] = identity;
}

void FakeResolver::AddContainer(const ExistingContainer& container) {
  containers_[container.id] = container;
}

Result<ImageIdentity> FakeResolver::Image(const std::string& image) {
  ++image_calls;
  if (!failure_.ok()) return failure_;
  auto it = images_.find(image);
  if (it == images_.end()) return Fail(base::Code::NOT_FOUND, "no such image");
  return it->second;
}

void FakeResolver::AddSandbox(const ExistingSandbox& sandbox) { sandboxes_[sandbox.id] = sandbox; }

namespace {

// containerd takes the full id or a unique prefix of it.
template <typename T>
Result<T> ByIdOrPrefix(const std::map<std::string, T>& items, const std::string& wanted,
                       const char* what) {
  const T* found = nullptr;
  for (const auto& [id, item] : items) {
    if (wanted.empty() || id.compare(0, wanted.size(), wanted) != 0) continue;
    if (found) return Fail(base::Code::NOT_FOUND, fmt::format("ambiguous {} id prefix", what));
    found = &item;
  }
  if (!found) return Fail(base::Code::NOT_FOUND, fmt::format("no such {}", what));
  return *found;
}

}  // namespace

Result<ExistingSandbox> FakeResolver::Sandbox(const std::string& sandbox_id) {
  ++sandbox_calls;
  if (!failure_.ok()) return failure_;
  return ByIdOrPrefix(sandboxes_, sandbox_id, "sandbox");
}

Result<ExistingContainer> FakeResolver::Container(const std::string& container_id) {
  ++container_calls;
  if (!failure_.ok()) return failure_;
  return ByIdOrPrefix(containers_, container_id, "container");
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/crigate-policy-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string path = path_ + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

ExistingContainer Container(std::string id, std::string image, std::string image_id,
                            std::string pod_sandbox_id, std::string pod_namespace) {
  ExistingContainer c;
  c.id = std::move(id);
  c.image = std::move(image);
  c.image_id = std::move(image_id);
  c.pod_sandbox_id = std::move(pod_sandbox_id);
  c.pod_namespace = std::move(pod_namespace);
  c.config = ContainerInfo{};
  SetDefaultProcPaths(&c.config->security);
  c.pod = PodInfo{};
  c.pod->namespace_ = c.pod_namespace;
  return c;
}

ExistingSandbox Sandbox(std::string id, std::string name, std::string pod_namespace,
                        std::string uid) {
  ExistingSandbox s;
  s.id = std::move(id);
  s.pod.name = std::move(name);
  s.pod.namespace_ = std::move(pod_namespace);
  s.pod.uid = std::move(uid);
  return s;
}

void SetDefaultProcPaths(ContainerSecurity* security) {
  security->masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                            "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug",   "/proc/scsi",
                            "/sys/firmware"};
  security->readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};
}

std::string Digest(char seed) { return "sha256:" + std::string(64, seed); }

std::shared_ptr<const JwsKey> NewKey(JwsAlg alg, const std::string& kid) {
  auto key = JwsKey::Generate(alg, kid);
  EXPECT_TRUE(key.ok()) << key.error();
  return key.ok() ? *key : nullptr;
}

std::shared_ptr<const JwsKey> PublicOf(const JwsKey& key) {
  auto pem = key.PublicPem();
  EXPECT_TRUE(pem.ok()) << pem.error();
  auto pub = JwsKey::FromPem(*pem, key.kid(), false);
  EXPECT_TRUE(pub.ok()) << pub.error();
  return pub.ok() ? *pub : nullptr;
}

}  // namespace crigate::policy::testing
