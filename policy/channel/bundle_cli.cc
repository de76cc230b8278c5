#include "policy/channel/bundle_cli.h"

#include <fmt/format.h>

#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "policy/base/files.h"
#include "policy/base/text.h"
#include "policy/base/time.h"
#include "policy/channel/bundle.h"
#include "policy/cli_flags.h"
#include "policy/jws.h"

namespace crigate::channel {
namespace {

constexpr char kUsage[] =
    "usage: crigate bundle sign --key CLOUD.key [--kid K] --node N --version V\n"
    "                           [--trust-store TRUST.toml] [--token-keys DIR|PUB.pem]\n"
    "       crigate bundle verify --keys PATH[,PATH] [--node N] FILE|-\n";

int Sign(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = policy::ParseCliFlags(
      args, {"key", "kid", "node", "version", "trust-store", "token-keys"}, "crigate bundle", err);
  if (!f) {
    err << kUsage;
    return 2;
  }
  for (const char* required : {"key", "node", "version"}) {
    if (f->Get(required).empty()) {
      err << "crigate bundle sign: --" << required << " is required\n" << kUsage;
      return 2;
    }
  }
  if (!f->positional.empty()) {
    err << "crigate bundle sign: unexpected argument " << f->positional[0] << "\n" << kUsage;
    return 2;
  }
  BundleContent content;
  content.node = f->Get("node");
  const std::string version = f->Get("version");
  if (version.find_first_not_of("0123456789") != std::string::npos || version.size() > 15 ||
      std::stoull(version) == 0) {
    err << "crigate bundle sign: --version must be a whole number from 1\n";
    return 2;
  }
  content.version = std::stoull(version);
  content.issued_at = base::FormatUtc(base::SystemClock::Instance().Now());
  if (std::string path = f->Get("trust-store"); !path.empty()) {
    base::Result<std::string> text = base::ReadBoundedFile(path, {kMaxBundleBytes, true});
    if (!text.ok()) {
      err << "crigate bundle sign: --trust-store " << text.error() << "\n";
      return 1;
    }
    content.trust_store = std::move(text).value();
  }
  if (std::string path = f->Get("token-keys"); !path.empty()) {
    // Read as a gateway's token.keys reads them: public keys only, kid from
    // the file name.
    std::vector<std::string> errors;
    std::shared_ptr<const policy::KeySet> set = policy::KeySet::Load({path}, errors);
    if (!set) {
      err << "crigate bundle sign: --token-keys " << base::Join(errors, "; ") << "\n";
      return 1;
    }
    std::map<std::string, std::string> keys;
    for (const auto& key : set->keys()) {
      base::Result<std::string> pem = key->PublicPem();
      if (!pem.ok()) {
        err << "crigate bundle sign: --token-keys " << key->kid() << ": " << pem.error() << "\n";
        return 1;
      }
      keys[key->kid()] = std::move(pem).value();
    }
    content.token_keys = std::move(keys);
  }
  if (!content.trust_store && !content.token_keys) {
    err << "crigate bundle sign: give --trust-store, --token-keys or both\n";
    return 2;
  }
  const std::string key_path = f->Get("key");
  std::string kid = f->Get("kid");
  if (kid.empty()) kid = policy::KidFromPath(key_path);
  auto key = policy::JwsKey::LoadPem(key_path, kid, /*want_private=*/true);
  if (!key.ok()) {
    err << "crigate bundle sign: --key " << key.error() << "\n";
    return 1;
  }
  base::Result<std::string> jws = policy::SignJws(BundlePayload(content), kBundleTyp, **key);
  if (!jws.ok()) {
    err << "crigate bundle sign: " << jws.error() << "\n";
    return 1;
  }
  // What a gateway would say, before anything is published.
  base::Result<BundleContent> check = VerifyBundle(*jws, *policy::KeySet::Of({*key}));
  if (!check.ok()) {
    err << "crigate bundle sign: a gateway would refuse this bundle: " << check.error() << "\n";
    return 1;
  }
  if (jws->size() > kMaxBundleBytes) {
    err << fmt::format(
        "crigate bundle sign: the bundle is {} bytes, more than the {} a gateway "
        "(and the broker's message_size_limit) takes\n",
        jws->size(), kMaxBundleBytes);
    return 1;
  }
  out << *jws << "\n";
  return 0;
}

int Verify(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
           std::ostream& err) {
  auto f = policy::ParseCliFlags(args, {"keys", "node"}, "crigate bundle", err);
  if (!f) {
    err << kUsage;
    return 2;
  }
  const std::vector<std::string>& positional = f->positional;
  if (f->Get("keys").empty() || positional.size() != 1) {
    err << kUsage;
    return 2;
  }
  std::string text;
  if (positional[0] == "-") {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    base::Result<std::string> file =
        base::ReadBoundedFile(positional[0], {kMaxBundleBytes + 2, true});
    if (!file.ok()) {
      err << "crigate bundle verify: " << file.error() << "\n";
      return 1;
    }
    text = std::move(file).value();
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::vector<std::string> errors;
  const std::vector<std::string> paths = policy::SplitComma(f->Get("keys"));
  auto keys = policy::KeySet::Load(paths, errors);
  if (!keys) {
    err << "crigate bundle verify: --keys " << base::Join(errors, "; ") << "\n";
    return 1;
  }
  base::Result<BundleContent> content = VerifyBundle(text, *keys);
  if (!content.ok()) {
    err << "refused: " << content.error() << "\n";
    return 1;
  }
  if (std::string node = f->Get("node"); !node.empty() && node != content->node) {
    err << "refused: bundle is for node " << content->node << ", not " << node << "\n";
    return 1;
  }
  out << fmt::format("ok: node {} version {} signed by {}{}", content->node, content->version,
                     content->signed_by,
                     content->issued_at.empty() ? "" : ", issued " + content->issued_at)
      << "\n";
  if (content->trust_store) {
    out << fmt::format("  trust_store: {} bytes\n", content->trust_store->size());
  }
  if (content->token_keys) {
    std::vector<std::string> kids;
    for (const auto& [kid, pem] : *content->token_keys) kids.push_back(kid);
    out << "  token_keys: " << base::Join(kids, ", ") << "\n";
  }
  return 0;
}

}  // namespace

int RunBundleCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "sign") return Sign(args, out, err);
  if (args[0] == "verify") return Verify(args, in, out, err);
  err << "crigate bundle: unknown command " << args[0] << "\n" << kUsage;
  return 2;
}

int RunBundleCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return RunBundleCli(args, std::cin, std::cout, std::cerr);
}

}  // namespace crigate::channel
