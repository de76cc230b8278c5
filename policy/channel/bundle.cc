#include "policy/channel/bundle.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "policy/base/files.h"
#include "policy/base/text.h"
#include "policy/jws.h"
#include "policy/trust_store.h"

namespace crigate::channel {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxVersion = uint64_t{1} << 53;  // exact in every JSON reader
constexpr size_t kMaxKeys = 64;

base::Status Malformed(std::string reason) {
  return base::Status::InvalidArgument("bundle " + std::move(reason));
}

// A kid becomes a file name: no path, no hidden file, nothing a shell or a
// log would mangle.
bool SafeKid(const std::string& kid) {
  if (kid.empty() || kid.size() > 64 || kid[0] == '.') return false;
  for (char c : kid) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

base::Result<BundleContent> ParsePayload(const std::string& text) {
  json payload = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Malformed("payload is not a JSON object");
  }
  static const std::set<std::string> kKnown = {"node", "version", "issued_at", "trust_store",
                                               "token_keys"};
  for (const auto& [key, value] : payload.items()) {
    if (kKnown.count(key) == 0) {
      return Malformed(
          fmt::format("field {} is not understood (known: node, version, issued_at, "
                      "trust_store, token_keys)",
                      policy::QuoteUntrusted(key)));
    }
  }
  BundleContent out;
  auto node = payload.find("node");
  if (node == payload.end() || !node->is_string() || node->get<std::string>().empty()) {
    return Malformed("has no node (the node id it is for)");
  }
  out.node = node->get<std::string>();
  auto version = payload.find("version");
  if (version == payload.end() || !version->is_number_unsigned() || version->get<uint64_t>() == 0 ||
      version->get<uint64_t>() > kMaxVersion) {
    return Malformed("has no version (an integer from 1 to 2^53)");
  }
  out.version = version->get<uint64_t>();
  if (auto issued = payload.find("issued_at"); issued != payload.end()) {
    if (!issued->is_string()) return Malformed("issued_at is not a string");
    out.issued_at = issued->get<std::string>();
  }
  if (auto trust = payload.find("trust_store"); trust != payload.end()) {
    if (!trust->is_string()) return Malformed("trust_store is not a string (TOML text)");
    out.trust_store = trust->get<std::string>();
  }
  if (auto keys = payload.find("token_keys"); keys != payload.end()) {
    if (!keys->is_object()) return Malformed("token_keys is not an object (kid -> PEM)");
    if (keys->size() > kMaxKeys) {
      return Malformed(fmt::format("has {} token keys, more than {}", keys->size(), kMaxKeys));
    }
    std::map<std::string, std::string> set;
    for (const auto& [kid, pem] : keys->items()) {
      if (!SafeKid(kid)) {
        return Malformed(
            fmt::format("token key id {} is not a file name ([A-Za-z0-9._-], 1-64, no leading dot)",
                        policy::QuoteUntrusted(kid)));
      }
      if (!pem.is_string()) return Malformed(fmt::format("token key {} is not a PEM string", kid));
      set.emplace(kid, pem.get<std::string>());
    }
    out.token_keys = std::move(set);
  }
  if (!out.trust_store && !out.token_keys) {
    return Malformed("carries neither trust_store nor token_keys");
  }
  return out;
}

base::Status CheckContent(const BundleContent& content) {
  if (content.trust_store) {
    toml::table root;
    try {
      root = toml::parse(std::string_view(*content.trust_store),
                         std::string_view("bundle trust_store"));
    } catch (const toml::parse_error& e) {
      return Malformed(fmt::format("trust_store is not TOML: line {}: {}", e.source().begin.line,
                                   e.description()));
    }
    std::vector<std::string> errors;
    if (!policy::TrustStore::Parse(root, "bundle trust_store", errors)) {
      return Malformed("trust_store is not valid: " + base::Join(errors, "; "));
    }
  }
  if (content.token_keys) {
    for (const auto& [kid, pem] : *content.token_keys) {
      auto key = policy::JwsKey::FromPem(pem, kid, /*want_private=*/false);
      if (!key.ok()) return Malformed(fmt::format("token key {}: {}", kid, key.error()));
    }
  }
  return base::Status::OK();
}

base::Status Errno(const std::string& what, const std::string& path) {
  return base::Status::Internal(fmt::format("{}: {}: {}", path, what, base::ErrnoText(errno)));
}

std::string VersionPath(const BundleTargets& t) { return t.state_dir + "/policy-version"; }

// The current contents of what a bundle would replace, so a refused reload
// can put them back. nullopt: the file does not exist.
struct Previous {
  std::optional<std::string> trust_store;
  std::map<std::string, std::string> keys;  // file name -> bytes
};

std::optional<std::string> ReadIfPresent(const std::string& path) {
  base::Result<std::string> text = base::ReadBoundedFile(path, {kMaxBundleBytes, true});
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

}  // namespace

const char* KindName(BundleOutcome::Kind kind) {
  switch (kind) {
    case BundleOutcome::Kind::kApplied:
      return "applied";
    case BundleOutcome::Kind::kAlreadyApplied:
      return "already_applied";
    case BundleOutcome::Kind::kRefused:
      return "refused";
  }
  return "refused";
}

base::Result<BundleContent> VerifyBundle(std::string_view jws, const policy::KeySet& keys) {
  policy::JwsRules rules;
  rules.what = "bundle";
  rules.max_bytes = kMaxBundleBytes;
  rules.typs = {kBundleTyp};
  rules.typ_optional = false;
  rules.kid_required = true;
  base::Result<policy::VerifiedJws> verified = policy::VerifyJws(jws, keys, rules);
  if (!verified.ok()) return verified.status();
  base::Result<BundleContent> content = ParsePayload(verified->payload);
  if (!content.ok()) return content.status();
  content->signed_by = verified->kid;
  base::Status checked = CheckContent(*content);
  if (!checked.ok()) return checked;
  return content;
}

std::string BundlePayload(const BundleContent& c) {
  json payload = {{"node", c.node}, {"version", c.version}};
  if (!c.issued_at.empty()) payload["issued_at"] = c.issued_at;
  if (c.trust_store) payload["trust_store"] = *c.trust_store;
  if (c.token_keys) payload["token_keys"] = *c.token_keys;
  return payload.dump();
}

base::Result<std::unique_ptr<BundleApplier>> BundleApplier::Open(
    BundleTargets targets, std::shared_ptr<const policy::KeySet> keys, Reload reload) {
  if (!keys || keys->keys().empty()) {
    return base::Status::InvalidArgument("no bundle key: channel.bundle_keys names none");
  }
  if (::mkdir(targets.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create", targets.state_dir);
  }
  uint64_t version = 0;
  base::Result<uint64_t> kept = base::ReadDecimalFile(VersionPath(targets));
  if (kept.ok() || kept.code() == base::Code::INVALID_ARGUMENT) {
    if (!kept.ok() || *kept > kMaxVersion) {
      // Refusing to start is safer than forgetting the version: a forgotten
      // version would let an old bundle roll the policy back.
      return base::Status::InvalidArgument(
          fmt::format("{}: not a bundle version; fix or remove it (removing it accepts any "
                      "version the cloud sends next)",
                      VersionPath(targets)));
    }
    version = *kept;
  } else if (::access(VersionPath(targets).c_str(), F_OK) == 0) {
    return kept.status();  // there, and unreadable
  }
  return std::unique_ptr<BundleApplier>(
      new BundleApplier(std::move(targets), std::move(keys), std::move(reload), version));
}

BundleOutcome BundleApplier::Offer(std::string_view message) {
  BundleOutcome out;
  out.in_force = version_.load();
  try {
    base::Result<BundleContent> content = VerifyBundle(message, *keys_);
    if (!content.ok()) {
      out.reason = content.error();
      return out;
    }
    out.version = content->version;
    out.signed_by = content->signed_by;
    if (content->node != targets_.node_id) {
      out.reason = fmt::format("bundle is for node {}, and this is node {}",
                               policy::QuoteUntrusted(content->node), targets_.node_id);
      return out;
    }
    const uint64_t in_force = version_.load();
    if (content->version < in_force) {
      out.reason = fmt::format("bundle version {} is older than version {} in force (rollback)",
                               content->version, in_force);
      return out;
    }
    if (content->version == in_force) {
      out.kind = BundleOutcome::Kind::kAlreadyApplied;
      return out;
    }
    if (content->trust_store && targets_.trust_store_path.empty()) {
      out.reason = "bundle carries a trust store, and the trust stage is off (trust.enabled)";
      return out;
    }
    if (content->token_keys && targets_.token_keys_dir.empty()) {
      out.reason = "bundle carries token keys, and channel.token_keys_dir is not set";
      return out;
    }
    base::Status applied = Apply(*content);
    if (!applied.ok()) {
      out.reason = applied.message();
      return out;
    }
    version_.store(content->version);
    out.in_force = content->version;
    out.kind = BundleOutcome::Kind::kApplied;
    base::Status kept = base::WriteFileAtomically(VersionPath(targets_),
                                                  std::to_string(content->version) + "\n", 0600);
    if (!kept.ok()) {
      // In force, but a restart would not remember it: say so in the ack.
      out.reason = "applied, but the version was not saved: " + kept.message();
    }
  } catch (const std::exception& e) {
    out.kind = BundleOutcome::Kind::kRefused;
    out.reason = fmt::format("bundle could not be read: {}", e.what());
  }
  return out;
}

base::Status BundleApplier::Apply(const BundleContent& content) {
  Previous previous;
  std::vector<std::string> stale_keys;  // key files the new set does not have
  if (content.trust_store) previous.trust_store = ReadIfPresent(targets_.trust_store_path);
  if (content.token_keys) {
    if (::mkdir(targets_.token_keys_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Errno("cannot create", targets_.token_keys_dir);
    }
    base::Result<std::vector<std::string>> names = base::ListDirectory(targets_.token_keys_dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (!policy::IsKeyFileName(name)) continue;
      if (auto bytes = ReadIfPresent(targets_.token_keys_dir + "/" + name)) {
        previous.keys.emplace(name, std::move(*bytes));
      }
      std::string kid = name.substr(0, name.size() - 4);
      if (content.token_keys->count(kid) == 0 || name.compare(name.size() - 4, 4, ".pub") != 0) {
        stale_keys.push_back(name);
      }
    }
  }

  auto restore = [&] {
    if (content.trust_store) {
      if (previous.trust_store) {
        (void)base::WriteFileAtomically(targets_.trust_store_path, *previous.trust_store, 0644);
      } else {
        ::unlink(targets_.trust_store_path.c_str());
      }
    }
    if (content.token_keys) {
      for (const auto& [kid, pem] : *content.token_keys) {
        if (previous.keys.count(kid + ".pub") == 0) {
          ::unlink((targets_.token_keys_dir + "/" + kid + ".pub").c_str());
        }
      }
      for (const auto& [name, bytes] : previous.keys) {
        (void)base::WriteFileAtomically(targets_.token_keys_dir + "/" + name, bytes, 0644);
      }
    }
  };

  base::Status written;
  if (content.trust_store) {
    written = base::WriteFileAtomically(targets_.trust_store_path, *content.trust_store, 0644);
  }
  if (written.ok() && content.token_keys) {
    for (const auto& [kid, pem] : *content.token_keys) {
      written = base::WriteFileAtomically(targets_.token_keys_dir + "/" + kid + ".pub", pem, 0644);
      if (!written.ok()) break;
    }
    if (written.ok()) {
      for (const std::string& name : stale_keys) {
        if (::unlink((targets_.token_keys_dir + "/" + name).c_str()) != 0 && errno != ENOENT) {
          written = Errno("cannot remove", targets_.token_keys_dir + "/" + name);
          break;
        }
      }
    }
  }
  if (!written.ok()) {
    restore();
    return written;
  }
  base::Status reloaded =
      reload_ ? reload_(fmt::format("cloud bundle v{}", content.version)) : base::Status::OK();
  if (!reloaded.ok()) {
    restore();
    return base::Status(reloaded.code(), "the new policy did not load, the previous one stays: " +
                                             reloaded.message());
  }
  return base::Status::OK();
}

}  // namespace crigate::channel
