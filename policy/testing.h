// Test helpers for policy/: a clock tests move, a resolver that answers from
// maps (or fails on demand), temporary directories, and keys made at test
// time. Test-only; never linked into the daemon.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "policy/base/fake_clock.h"
#include "policy/image_resolver.h"
#include "policy/jws_key.h"

namespace crigate::policy::testing {

// The shared settable clock (policy/base/fake_clock.h).
using base::FakeClock;

class FakeResolver final : public ImageResolver {
 public:
  // Answers Image(name) for each repo tag, repo digest and the id.
  void AddImage(const ImageIdentity& identity);
  // Answers Container(id) for the full id and any prefix of it that is unique.
  void AddContainer(const ExistingContainer& container);
  // Answers Sandbox(id) for the full id and any prefix of it that is unique.
  void AddSandbox(const ExistingSandbox& sandbox);
  // Every call fails with this status (e.g. UNAVAILABLE) while set.
  void FailWith(base::Status status) { failure_ = std::move(status); }

  Result<ImageIdentity> Image(const std::string& image) override;
  Result<ExistingContainer> Container(const std::string& container_id) override;
  Result<ExistingSandbox> Sandbox(const std::string& sandbox_id) override;

  int image_calls = 0;
  int container_calls = 0;
  int sandbox_calls = 0;

 private:
  std::map<std::string, ImageIdentity> images_;
  std::map<std::string, ExistingContainer> containers_;
  std::map<std::string, ExistingSandbox> sandboxes_;
  base::Status failure_;
};

// A fresh directory under $TMPDIR, removed with its contents at destruction.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const;  // returns path

 private:
  std::string path_;
};

// An existing container as the resolver reports it: an unprivileged
// container in an unprivileged pod of pod_namespace, with no host namespaces.
ExistingContainer Container(std::string id, std::string image, std::string image_id,
                            std::string pod_sandbox_id, std::string pod_namespace);

// A sandbox as the resolver reports it: pod name/namespace/uid, nothing
// privileged.
ExistingSandbox Sandbox(std::string id, std::string name, std::string pod_namespace,
                        std::string uid);

// The /proc masked and read-only paths kubelet sends for a default /proc
// mount (containerd masks only what a request lists).
void SetDefaultProcPaths(ContainerSecurity* security);

// "sha256:" + 64 hex digits made from seed, for fixtures.
std::string Digest(char seed);

// A freshly generated key with its private half.
std::shared_ptr<const JwsKey> NewKey(JwsAlg alg, const std::string& kid);
// The public half of key as a verification key.
std::shared_ptr<const JwsKey> PublicOf(const JwsKey& key);

}  // namespace crigate::policy::testing
