#include "policy/channel/bundle_cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "policy/base/files.h"
#include "policy/base/text.h"
#include "policy/base/time.h"
#include "policy/channel/bundle.h"
#include "policy/jws.h"

namespace crigate::channel {
namespace {

constexpr char kUsage[] =
    "usage: crigate bundle sign --key CLOUD.key [--kid K] --node N --version V\n"
    "                           [--trust-store TRUST.toml] [--token-keys DIR|PUB.pem]\n"
    "       crigate bundle verify --keys PATH[,PATH] [--node N] FILE|-\n";

using Flags = std::map<std::string, std::string>;

std::optional<Flags> Parse(const std::vector<std::string>& args, const std::set<std::string>& known,
                           std::vector<std::string>& positional, std::ostream& err) {
  Flags flags;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      err << "crigate bundle: --" << name << " needs a value\n";
      return std::nullopt;
    }
    if (known.count(name) == 0) {
      err << "crigate bundle: unknown option --" << name << "\n" << kUsage;
      return std::nullopt;
    }
    flags[name] = value;
  }
  return flags;
}

std::string Get(const Flags& f, const std::string& name) {
  auto it = f.find(name);
  return it == f.end() ? std::string() : it->second;
}

bool IsKeyName(const std::string& name) {
  auto ends = [&](std::string_view s) {
    return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".pub") || ends(".pem");
}

int Sign(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> positional;
  auto f =
      Parse(args, {"key", "kid", "node", "version", "trust-store", "token-keys"}, positional, err);
  if (!f) return 2;
  for (const char* required : {"key", "node", "version"}) {
    if (Get(*f, required).empty()) {
      err << "crigate bundle sign: --" << required << " is required\n" << kUsage;
      return 2;
    }
  }
  if (!positional.empty()) {
    err << "crigate bundle sign: unexpected argument " << positional[0] << "\n" << kUsage;
    return 2;
  }
  BundleContent content;
  content.node = Get(*f, "node");
  const std::string version = Get(*f, "version");
  if (version.find_first_not_of("0123456789") != std::string::npos || version.size() > 15 ||
      std::stoull(version) == 0) {
    err << "crigate bundle sign: --version must be a whole number from 1\n";
    return 2;
  }
  content.version = std::stoull(version);
  content.issued_at = base::FormatUtc(base::SystemClock::Instance().Now());
  if (std::string path = Get(*f, "trust-store"); !path.empty()) {
    base::Result<std::string> text = base::ReadBoundedFile(path, {kMaxBundleBytes, true});
    if (!text.ok()) {
      err << "crigate bundle sign: --trust-store " << text.error() << "\n";
      return 1;
    }
    content.trust_store = std::move(text).value();
  }
  if (std::string path = Get(*f, "token-keys"); !path.empty()) {
    std::vector<std::string> files;
    base::Result<std::vector<std::string>> names = base::ListDirectory(path);
    if (names.ok()) {
      for (const std::string& name : *names) {
        if (!IsKeyName(name)) continue;
        std::string file = path;
        file += '/';
        file += name;
        files.push_back(std::move(file));
      }
    } else {
      files.push_back(path);
    }
    std::map<std::string, std::string> keys;
    for (const std::string& file : files) {
      base::Result<std::string> pem = base::ReadBoundedFile(file, {64 << 10, true});
      if (!pem.ok()) {
        err << "crigate bundle sign: --token-keys " << pem.error() << "\n";
        return 1;
      }
      keys[policy::KidFromPath(file)] = std::move(pem).value();
    }
    content.token_keys = std::move(keys);
  }
  if (!content.trust_store && !content.token_keys) {
    err << "crigate bundle sign: give --trust-store, --token-keys or both\n";
    return 2;
  }
  const std::string key_path = Get(*f, "key");
  std::string kid = Get(*f, "kid");
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
  std::vector<std::string> positional;
  auto f = Parse(args, {"keys", "node"}, positional, err);
  if (!f) return 2;
  if (Get(*f, "keys").empty() || positional.size() != 1) {
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
  std::vector<std::string> paths;
  const std::string list = Get(*f, "keys");
  for (size_t start = 0; start <= list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) paths.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
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
  if (std::string node = Get(*f, "node"); !node.empty() && node != content->node) {
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
