// Policy bundles: what the cloud pushes to one gateway through the broker.
// A bundle is a JWS (policy/jws.h) signed by a cloud key this node trusts
// (channel.bundle_keys, files only: a bundle never changes which keys may
// sign bundles), so a compromised broker cannot inject policy.
//
//   header   {"alg": "EdDSA" | "ES256", "kid": "<cloud key>", "typ": "crigate-bundle+jws"}
//   payload  {"node": "<node id>",                 must be this node's
//             "version": 7,                        1..2^53, must grow
//             "issued_at": "2026-11-30T08:00:00Z", optional, informational
//             "trust_store": "<TOML text>",        optional: the whole trust store
//                                                  (policy/trust_store.h)
//             "token_keys": {"<kid>": "<PEM>"}}    optional: the whole set of
//                                                  token keys the cloud manages
// At least one of trust_store and token_keys; any other field is refused
// (a field crigate does not understand might have been meant to restrict).
//
// BundleApplier takes one bundle at a time, on the channel's thread:
//   verify signature, node and structure; parse the trust store and the keys
//   -> version: older than the one in force: refused (rollback); equal:
//      already applied (the broker delivers the retained bundle again at
//      every reconnect), nothing is written
//   -> write each file atomically where the file-based config reads it
//      (trust.store; channel.token_keys_dir, which the channel owns)
//   -> reload, through the same path as SIGHUP (one validated snapshot,
//      swapped whole; calls in flight keep the one they started with)
//   -> persist the version (state_dir/policy-version), so a rollback is
//      refused after a restart too; then the caller acknowledges.
// When the reload refuses the new files, the previous files are written
// back and the policy in force is unchanged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policy/base/status.h"
#include "policy/jws_key.h"

namespace crigate::channel {

inline constexpr char kBundleTyp[] = "crigate-bundle+jws";
inline constexpr size_t kMaxBundleBytes = size_t{1} << 20;  // the broker's message_size_limit

struct BundleContent {
  std::string node;
  uint64_t version = 0;
  std::string issued_at;                                         // "" when absent
  std::optional<std::string> trust_store;                        // TOML text
  std::optional<std::map<std::string, std::string>> token_keys;  // kid -> PEM
  std::string signed_by;                                         // the kid that verified it
};

// Signature, structure and content (the trust store parses, each key is a
// public key of a supported kind, kids are file-name safe). Does not look
// at the node or the version: BundleApplier does. UNAUTHENTICATED for a
// signature problem, INVALID_ARGUMENT for a malformed payload.
base::Result<BundleContent> VerifyBundle(std::string_view jws, const policy::KeySet& keys);

// The payload JSON of content (trust_store and token_keys as set).
std::string BundlePayload(const BundleContent& content);

struct BundleTargets {
  std::string node_id;
  std::string trust_store_path;  // trust.store; "" refuses bundles that carry one
  std::string token_keys_dir;    // channel.token_keys_dir; "" refuses bundles with token_keys
  std::string state_dir;         // holds policy-version
};

struct BundleOutcome {
  enum class Kind { kApplied, kAlreadyApplied, kRefused };
  Kind kind = Kind::kRefused;
  uint64_t version = 0;   // the bundle's, 0 when it could not be read
  uint64_t in_force = 0;  // the version in force afterwards (0: none yet)
  std::string reason;     // for kRefused: why, for the operator
  std::string signed_by;  // kid, when the signature verified
};

const char* KindName(BundleOutcome::Kind kind);  // "applied", "already_applied", "refused"

class BundleApplier final {
 public:
  // reload: the SIGHUP path; OK when the new files are in force. why names
  // the trigger for the log ("cloud bundle v7").
  using Reload = std::function<base::Status(const std::string& why)>;

  // Reads state_dir/policy-version (absent: 0), creating state_dir 0700.
  static base::Result<std::unique_ptr<BundleApplier>> Open(
      BundleTargets targets, std::shared_ptr<const policy::KeySet> keys, Reload reload);

  // One message from the policy topic. Never throws.
  BundleOutcome Offer(std::string_view message);

  // The version in force; safe from any thread.
  uint64_t version() const { return version_.load(); }

 private:
  BundleApplier(BundleTargets targets, std::shared_ptr<const policy::KeySet> keys, Reload reload,
                uint64_t version)
      : targets_(std::move(targets)),
        keys_(std::move(keys)),
        reload_(std::move(reload)),
        version_(version) {}
  base::Status Apply(const BundleContent& content);

  const BundleTargets targets_;
  const std::shared_ptr<const policy::KeySet> keys_;
  const Reload reload_;
  std::atomic<uint64_t> version_;  // written only by Offer's thread
};

}  // namespace crigate::channel
