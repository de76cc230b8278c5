#include "policy/jws_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "policy/base/files.h"

namespace crigate::policy {
namespace {

using Code = base::Code;
constexpr size_t kMaxPemBytes = size_t{64} * 1024;
constexpr size_t kCoordinateBytes = 32;  // P-256

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// The newest OpenSSL error as text, clearing the thread's queue so that a
// failure here never shows up in an unrelated later call.
std::string OpenSslError() {
  unsigned long code = ERR_peek_last_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

// Never prompts: an encrypted key simply fails to load.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<JwsAlg> AlgOf(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return JwsAlg::kEdDSA;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &length) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0)) {
      return JwsAlg::kES256;
    }
    ERR_clear_error();
    return Fail(Code::INVALID_ARGUMENT,
                fmt::format("EC key on curve '{}' is not P-256", group[0] ? group : "unknown"));
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return Fail(Code::INVALID_ARGUMENT,
              fmt::format("key type {} is not Ed25519 or ECDSA P-256", type ? type : "unknown"));
}

Result<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return Fail(Code::INTERNAL, OpenSslError());
  return std::string(data, static_cast<size_t>(length));
}

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

const char* AlgName(JwsAlg alg) { return alg == JwsAlg::kEdDSA ? "EdDSA" : "ES256"; }

JwsKey::~JwsKey() { EVP_PKEY_free(pkey_); }

Result<std::shared_ptr<const JwsKey>> JwsKey::Generate(JwsAlg alg, std::string kid) {
  EVP_PKEY* pkey = alg == JwsAlg::kEdDSA ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                         : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!pkey) return Fail(Code::INTERNAL, "key generation failed: " + OpenSslError());
  return std::shared_ptr<const JwsKey>(new JwsKey(pkey, alg, std::move(kid), true));
}

Result<std::shared_ptr<const JwsKey>> JwsKey::FromPem(std::string_view pem, std::string kid,
                                                      bool want_private) {
  const bool holds_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  if (!want_private && holds_private) {
    return Fail(Code::INVALID_ARGUMENT,
                "holds a private key; a verification key must be the public key (PREFIX.pub)");
  }
  if (pem.size() > kMaxPemBytes) return Fail(Code::INVALID_ARGUMENT, "too large for a PEM key");
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail(Code::INTERNAL, OpenSslError());
  Owned<EVP_PKEY> pkey(want_private
                           ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    std::string why = OpenSslError();
    if (want_private && !holds_private) {
      return Fail(Code::INVALID_ARGUMENT, "holds no private key (signing needs PREFIX.key)");
    }
    if (pem.find("ENCRYPTED") != std::string_view::npos) {
      return Fail(Code::INVALID_ARGUMENT,
                  "is an encrypted private key; crigate needs it unencrypted");
    }
    return Fail(Code::INVALID_ARGUMENT,
                fmt::format("holds no PEM {} key ({})", want_private ? "private" : "public", why));
  }
  Result<JwsAlg> alg = AlgOf(pkey.get());
  if (!alg.ok()) return alg.status();
  return std::shared_ptr<const JwsKey>(
      new JwsKey(pkey.release(), *alg, std::move(kid), want_private));
}

Result<std::shared_ptr<const JwsKey>> JwsKey::LoadPem(const std::string& path, std::string kid,
                                                      bool want_private) {
  Result<std::string> pem = base::ReadBoundedFile(path, {kMaxPemBytes});
  if (!pem.ok()) return pem.status();
  auto key = FromPem(*pem, std::move(kid), want_private);
  if (!key.ok()) return Fail(key.code(), fmt::format("{}: {}", path, key.error()));
  return key;
}

Result<std::string> JwsKey::Sign(std::string_view data) const {
  if (!has_private_) return Fail(Code::FAILED_PRECONDITION, "a public key cannot sign");
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const EVP_MD* md = alg_ == JwsAlg::kES256 ? EVP_sha256() : nullptr;
  size_t length = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, pkey_) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, in, data.size()) != 1) {
    return Fail(Code::INTERNAL, "signing failed: " + OpenSslError());
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, in,
                     data.size()) != 1) {
    return Fail(Code::INTERNAL, "signing failed: " + OpenSslError());
  }
  signature.resize(length);
  if (alg_ == JwsAlg::kEdDSA) return signature;

  // DER ECDSA-Sig-Value -> JOSE r||s, each left-padded to 32 bytes.
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  Owned<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
  if (!sig) return Fail(Code::INTERNAL, "signing failed: " + OpenSslError());
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kCoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordinateBytes) != int(kCoordinateBytes) ||
      BN_bn2binpad(s, out + kCoordinateBytes, kCoordinateBytes) != int(kCoordinateBytes)) {
    return Fail(Code::INTERNAL, "signing failed: " + OpenSslError());
  }
  return raw;
}

bool JwsKey::Verify(std::string_view data, std::string_view signature) const {
  std::string der;
  const EVP_MD* md = nullptr;
  if (alg_ == JwsAlg::kEdDSA) {
    if (signature.size() != 64) return false;
    der = std::string(signature);
  } else {
    // JOSE r||s -> DER, which is what OpenSSL verifies.
    if (signature.size() != 2 * kCoordinateBytes) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    Owned<BIGNUM> r(BN_bin2bn(raw, kCoordinateBytes, nullptr));
    Owned<BIGNUM> s(BN_bin2bn(raw + kCoordinateBytes, kCoordinateBytes, nullptr));
    Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
      ERR_clear_error();
      return false;
    }
    (void)r.release();  // owned by sig now
    (void)s.release();
    unsigned char* out = nullptr;
    int length = i2d_ECDSA_SIG(sig.get(), &out);
    if (length <= 0) {
      ERR_clear_error();
      return false;
    }
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    md = EVP_sha256();
  }
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey_) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

Result<std::string> JwsKey::PublicPem() const {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_) != 1)
    return Fail(Code::INTERNAL, OpenSslError());
  return BioText(bio.get());
}

Result<std::string> JwsKey::PrivatePem() const {
  if (!has_private_) return Fail(Code::FAILED_PRECONDITION, "no private key");
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail(Code::INTERNAL, OpenSslError());
  }
  return BioText(bio.get());
}

bool IsKeyFileName(std::string_view name) {
  return !name.empty() && name[0] != '.' && (HasSuffix(name, ".pem") || HasSuffix(name, ".pub"));
}

std::string KidFromPath(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::string_view ext : {".pem", ".pub", ".key"}) {
    if (HasSuffix(name, ext) && name.size() > ext.size()) {
      name.remove_suffix(ext.size());
      break;
    }
  }
  return std::string(name);
}

std::shared_ptr<const KeySet> KeySet::Of(std::vector<std::shared_ptr<const JwsKey>> keys) {
  return std::shared_ptr<const KeySet>(new KeySet(std::move(keys)));
}

std::shared_ptr<const KeySet> KeySet::Load(const std::vector<std::string>& paths,
                                           std::vector<std::string>& errors) {
  const size_t before = errors.size();
  std::vector<std::shared_ptr<const JwsKey>> keys;
  std::map<std::string, std::string> kid_source;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    auto error = [&](const std::string& message) {
      errors.push_back(fmt::format("keys[{}]: {}", i, message));
    };
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      error(fmt::format("cannot read {}: {}", path, base::ErrnoText(errno)));
      continue;
    }
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode)) {
      base::Result<std::vector<std::string>> names = base::ListDirectory(path);
      if (!names.ok()) {
        error(names.error());
        continue;
      }
      for (const std::string& name : *names) {
        if (IsKeyFileName(name)) {
          files.push_back(path);
          files.back().append(HasSuffix(path, "/") ? "" : "/").append(name);
        }
      }
      if (files.empty()) {
        error(fmt::format("directory {} holds no *.pem or *.pub file", path));
        continue;
      }
    } else {
      files.push_back(path);
    }
    for (const auto& file : files) {
      Result<std::shared_ptr<const JwsKey>> key = JwsKey::LoadPem(file, KidFromPath(file), false);
      if (!key.ok()) {
        error(key.error());
        continue;
      }
      auto [it, inserted] = kid_source.emplace((*key)->kid(), file);
      if (!inserted) {
        error(fmt::format("{}: kid '{}' is already taken by {}", file, (*key)->kid(), it->second));
        continue;
      }
      keys.push_back(std::move(key).value());
    }
  }
  if (errors.size() != before) return nullptr;
  if (keys.empty()) {
    errors.push_back("keys: no verification key configured");
    return nullptr;
  }
  return Of(std::move(keys));
}

const JwsKey* KeySet::Find(std::string_view kid) const {
  for (const auto& key : keys_) {
    if (key->kid() == kid) return key.get();
  }
  return nullptr;
}

}  // namespace crigate::policy
