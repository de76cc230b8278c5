#include "policy/token_cli.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "policy/actions.h"
#include "policy/base/base64url.h"
#include "policy/base/duration.h"
#include "policy/base/files.h"
#include "policy/base/text.h"
#include "policy/cli_flags.h"
#include "policy/image_ref.h"
#include "policy/jws_key.h"
#include "policy/policy_config.h"
#include "policy/token.h"

namespace crigate::policy {
namespace {

constexpr char kUsage[] =
    "usage: crigate token issue --key KEY.pem --sub S --act A[,B] [--img REF] [--node N]\n"
    "                           [--ttl 300s] [--jti auto|ID] [--kid K]\n"
    "       crigate token verify --pub PUB.pem [--kid K] [--node N] [--act A] [--img REF]\n"
    "                            [--max-ttl D] TOKEN|-\n"
    "       crigate token keygen --type ed25519|p256 --out PREFIX\n";

// An image claim: a normalised reference or a bare digest.
std::optional<std::string> ImageClaim(const std::string& text, std::ostream& err) {
  if (IsDigest(text)) return text;
  Result<ImageRef> ref = ParseImageRef(text);
  if (!ref.ok()) {
    err << "crigate token: --img: " << ref.error() << "\n";
    return std::nullopt;
  }
  return ref->String();
}

int Issue(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
          const base::Clock& clock) {
  auto p = ParseCliFlags(args, {"key", "sub", "act", "img", "node", "ttl", "jti", "kid"},
                         "crigate token", err);
  if (!p) return 2;
  for (const char* required : {"key", "sub", "act"}) {
    if (p->Get(required).empty()) {
      err << "crigate token issue: --" << required << " is required\n" << kUsage;
      return 2;
    }
  }
  if (!p->positional.empty()) {
    err << "crigate token issue: unexpected argument '" << p->positional[0] << "'\n";
    return 2;
  }
  TokenClaims claims;
  claims.sub = p->Get("sub");
  claims.act = SplitComma(p->Get("act"));
  for (const auto& action : claims.act) {
    if (!GatableActions().count(action)) {
      err << "crigate token issue: --act: '" << action
          << "' is not one of: " << base::Join(GatableActions()) << "\n";
      return 2;
    }
  }
  if (claims.act.empty()) {
    err << "crigate token issue: --act names no action\n";
    return 2;
  }
  if (std::string img = p->Get("img"); !img.empty()) {
    auto claim = ImageClaim(img, err);
    if (!claim) return 2;
    claims.img = *claim;
  }
  claims.node = p->Get("node", HostName());
  if (claims.node.empty()) {
    err << "crigate token issue: --node not given and the host name cannot be read\n";
    return 2;
  }
  Result<std::chrono::seconds> ttl = base::ParseDuration(p->Get("ttl", "300s"));
  if (!ttl.ok() || ttl->count() == 0) {
    err << "crigate token issue: --ttl: " << (ttl.ok() ? "must be more than 0s" : ttl.error())
        << "\n";
    return 2;
  }
  const int64_t now = base::ToUnixSeconds(clock.Now());
  claims.iat = now;
  claims.nbf = now;
  claims.exp = now + ttl->count();
  claims.jti = p->Get("jti", "auto");
  if (claims.jti == "auto") {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof(random)) != 1) {
      err << "crigate token issue: no randomness for the jti\n";
      return 1;
    }
    claims.jti =
        base::Base64UrlEncode(std::string(reinterpret_cast<char*>(random), sizeof(random)));
  }
  const std::string key_path = p->Get("key");
  auto key = JwsKey::LoadPem(key_path, p->Get("kid", KidFromPath(key_path)), true);
  if (!key.ok()) {
    err << "crigate token issue: --key " << key.error() << "\n";
    return 1;
  }
  Result<std::string> token = IssueToken(claims, **key);
  if (!token.ok()) {
    err << "crigate token issue: " << token.error() << "\n";
    return 1;
  }
  out << *token << "\n";
  return 0;
}

int Verify(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
           std::ostream& err, const base::Clock& clock) {
  auto p =
      ParseCliFlags(args, {"pub", "kid", "node", "act", "img", "max-ttl"}, "crigate token", err);
  if (!p) return 2;
  if (p->Get("pub").empty() || p->positional.size() != 1) {
    err << "crigate token verify: needs --pub and one TOKEN (or - for stdin)\n" << kUsage;
    return 2;
  }
  std::string token = p->positional[0];
  if (token == "-") {
    // Read at most a little more than any acceptable token, so that the
    // verifier reports the size rather than this reading without bound.
    token.assign(kMaxTokenBytes * 4, '\0');
    in.read(token.data(), static_cast<std::streamsize>(token.size()));
    token.resize(static_cast<size_t>(in.gcount()));
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front())))
    token.erase(0, 1);

  const std::string pub_path = p->Get("pub");
  auto key = JwsKey::LoadPem(pub_path, p->Get("kid", KidFromPath(pub_path)), false);
  if (!key.ok()) {
    err << "crigate token verify: --pub " << key.error() << "\n";
    return 1;
  }
  TokenCheck check;
  check.now = clock.Now();
  check.node = p->Get("node");
  check.max_ttl = std::chrono::seconds(0);
  if (std::string max_ttl = p->Get("max-ttl"); !max_ttl.empty()) {
    Result<std::chrono::seconds> parsed = base::ParseDuration(max_ttl);
    if (!parsed.ok()) {
      err << "crigate token verify: --max-ttl: " << parsed.error() << "\n";
      return 2;
    }
    check.max_ttl = *parsed;
  }
  auto keys = KeySet::Of({*key});
  Result<VerifiedToken> verified = VerifyToken(token, *keys, check);
  if (!verified.ok()) {
    err << "crigate token verify: " << verified.error() << "\n";
    return 1;
  }
  if (std::string act = p->Get("act"); !act.empty()) {
    if (base::Status s = CheckTokenAction(verified->claims, act); !s.ok()) {
      err << "crigate token verify: " << s.message() << "\n";
      return 1;
    }
  }
  if (std::string img = p->Get("img"); !img.empty()) {
    if (base::Status s = CheckTokenImage(verified->claims, {img}, NormaliseOrKeep(img)); !s.ok()) {
      err << "crigate token verify: " << s.message() << "\n";
      return 1;
    }
  }
  nlohmann::ordered_json report = {
      {"valid", true},
      {"kid", verified->kid},
      {"alg", AlgName((*key)->alg())},
      {"claims", nlohmann::ordered_json::parse(verified->claims_json, nullptr, false)},
      {"expires", base::FormatUtc(base::FromUnixSeconds(verified->claims.exp))}};
  out << report.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return 0;
}

// Writes text to path, failing if it exists.
bool WriteNew(const std::string& path, const std::string& text, mode_t mode, std::ostream& err) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    err << "crigate token keygen: cannot create " << path << ": " << base::ErrnoText(errno) << "\n";
    return false;
  }
  bool ok = fchmod(fd, mode) == 0 && write(fd, text.data(), text.size()) == ssize_t(text.size()) &&
            fsync(fd) == 0;
  int saved = errno;
  close(fd);
  if (!ok) {
    err << "crigate token keygen: cannot write " << path << ": " << base::ErrnoText(saved) << "\n";
    unlink(path.c_str());
  }
  return ok;
}

int Keygen(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto p = ParseCliFlags(args, {"type", "out"}, "crigate token", err);
  if (!p) return 2;
  const std::string type = p->Get("type"), prefix = p->Get("out");
  if ((type != "ed25519" && type != "p256") || prefix.empty() || !p->positional.empty()) {
    err << "crigate token keygen: needs --type ed25519|p256 and --out PREFIX\n" << kUsage;
    return 2;
  }
  auto key =
      JwsKey::Generate(type == "ed25519" ? JwsAlg::kEdDSA : JwsAlg::kES256, KidFromPath(prefix));
  if (!key.ok()) {
    err << "crigate token keygen: " << key.error() << "\n";
    return 1;
  }
  Result<std::string> private_pem = (*key)->PrivatePem();
  Result<std::string> public_pem = (*key)->PublicPem();
  if (!private_pem.ok() || !public_pem.ok()) {
    err << "crigate token keygen: cannot encode the key\n";
    return 1;
  }
  if (!WriteNew(prefix + ".key", *private_pem, 0600, err)) return 1;
  if (!WriteNew(prefix + ".pub", *public_pem, 0644, err)) {
    unlink((prefix + ".key").c_str());
    return 1;
  }
  out << "wrote " << prefix << ".key (private, 0600) and " << prefix << ".pub ("
      << AlgName((*key)->alg()) << ", kid " << (*key)->kid() << ")\n";
  return 0;
}

}  // namespace

int RunTokenCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err, const base::Clock& clock) {
  try {
    if (args.empty()) {
      err << kUsage;
      return 2;
    }
    if (args[0] == "issue") return Issue(args, out, err, clock);
    if (args[0] == "verify") return Verify(args, in, out, err, clock);
    if (args[0] == "keygen") return Keygen(args, out, err);
    if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
      out << kUsage;
      return 0;
    }
    err << "crigate token: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    err << "crigate token: " << e.what() << "\n";
    return 1;
  }
}

int RunTokenCli(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return RunTokenCli(args, std::cin, std::cout, std::cerr, base::SystemClock::Instance());
}

}  // namespace crigate::policy
