// Signing and verification keys for call tokens, over OpenSSL 3 EVP. The key
// decides the algorithm: an Ed25519 key signs EdDSA, a P-256 key ES256
// (signature as JOSE's raw 64-byte r||s, not DER). Nothing else is accepted,
// so a token can never choose its own algorithm.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace crigate::policy {

enum class JwsAlg { kEdDSA, kES256 };

const char* AlgName(JwsAlg alg);  // "EdDSA", "ES256"

// Immutable and thread-safe once made.
class JwsKey final {
 public:
  ~JwsKey();
  JwsKey(const JwsKey&) = delete;
  JwsKey& operator=(const JwsKey&) = delete;

  static Result<std::shared_ptr<const JwsKey>> Generate(JwsAlg alg, std::string kid);
  // want_private: the PEM must hold a private key (for signing); otherwise it
  // must hold a public key (a verification key set never holds secrets).
  // Encrypted private keys are refused (no passphrase prompt).
  static Result<std::shared_ptr<const JwsKey>> FromPem(std::string_view pem, std::string kid,
                                                       bool want_private);
  // FromPem on a file (at most 64 KiB); errors name the path.
  static Result<std::shared_ptr<const JwsKey>> LoadPem(const std::string& path, std::string kid,
                                                       bool want_private);

  JwsAlg alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  bool has_private() const { return has_private_; }

  // The JWS signature bytes over data. Needs the private key.
  Result<std::string> Sign(std::string_view data) const;
  // False for a wrong signature and for a signature of the wrong length.
  bool Verify(std::string_view data, std::string_view signature) const;

  Result<std::string> PublicPem() const;
  Result<std::string> PrivatePem() const;  // PKCS#8, unencrypted

 private:
  JwsKey(EVP_PKEY* pkey, JwsAlg alg, std::string kid, bool has_private)
      : pkey_(pkey), alg_(alg), kid_(std::move(kid)), has_private_(has_private) {}

  EVP_PKEY* const pkey_;  // owned
  const JwsAlg alg_;
  const std::string kid_;
  const bool has_private_;
};

// The verification keys, from PEM files and directories. Immutable.
class KeySet final {
 public:
  // Each path is a PEM file holding one public key, or a directory whose
  // *.pem and *.pub files are loaded in name order. A key's kid is its file
  // name without .pem/.pub/.key ("edge-2026.pub" -> "edge-2026"). Null with
  // "keys[i]: ..." messages on any unreadable or unsuitable file, on a
  // duplicate kid, or when no key is found at all.
  static std::shared_ptr<const KeySet> Load(const std::vector<std::string>& paths,
                                            std::vector<std::string>& errors);
  static std::shared_ptr<const KeySet> Of(std::vector<std::shared_ptr<const JwsKey>> keys);

  const JwsKey* Find(std::string_view kid) const;
  const std::vector<std::shared_ptr<const JwsKey>>& keys() const { return keys_; }

 private:
  explicit KeySet(std::vector<std::shared_ptr<const JwsKey>> keys) : keys_(std::move(keys)) {}
  const std::vector<std::shared_ptr<const JwsKey>> keys_;
};

// "dir/edge-2026.pub" -> "edge-2026".
std::string KidFromPath(std::string_view path);

// A name KeySet::Load takes from a directory: *.pem or *.pub, not hidden.
bool IsKeyFileName(std::string_view name);

}  // namespace crigate::policy
