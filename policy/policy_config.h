// The policy's configuration: the [gate], [privilege], [trust], [token],
// [audit] and [node] sections of crigate's TOML file, plus [cloud] handed to
// policy/cloud's own parser. Parsed once, validated in full (including
// reading the trust store and the token keys it names), then immutable and
// shared.
//
// Every key has a default; every error names its key
// ("token.keys[1]: cannot read /x.pem: No such file or directory"); unknown
// keys are errors.
//
//   [gate]       methods = [...]          DefaultGatedActions(); naming one of Exec,
//                                         ExecSync, Attach, PortForward gates all four
//                read_only_open = true    false: read-only methods need a super user too
//   [privilege]  enabled = true
//                super_uids = [0]         numbers or user names
//                super_groups = []        numbers or group names (the caller's primary gid)
//   [trust]      enabled = true
//                store = "/etc/crigate/trust.toml"
//                sandbox_image = "registry.k8s.io/pause:3.6"
//                kubelet_root = "/var/lib/kubelet"   pods' own volumes live below <root>/pods/<uid>
//   [token]      enabled = true
//                keys = ["/etc/crigate/keys"]   PEM public keys, or directories of them
//                required_for = ["RunPodSandbox", "CreateContainer", "StartContainer", "PullImage"]
//                max_ttl = "1h"           longest token lifetime accepted
//                replay_cache_size = 100000   unexpired token uses remembered
//                use_store = "/var/lib/crigate/token-uses"   where uses survive restarts;
//                                         "" keeps them in memory only (a restart forgets)
//                grant_dir = "/var/lib/crigate/token-grants"   tokens kept for the
//                                         StartContainer of containers created with them
//                clock_skew = "30s"
//   [audit]      path = "/var/log/crigate/audit.jsonl"
//                max_bytes = 67108864     rotate past this size; 0 never
//                keep = 5                 rotated files kept
//                fsync = false            fdatasync every record
//   [node]       id = <hostname>          what a token's node claim must equal
#pragma once

#include <sys/types.h>
#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policy/actions.h"
#include "policy/audit_log.h"
#include "policy/jws_key.h"
#include "policy/trust_store.h"

namespace crigate::cloud {
struct CloudConfig;  // policy/cloud/cloud_config.h
}  // namespace crigate::cloud

namespace crigate::policy {

struct PolicyConfig {
  struct Gate {
    std::set<std::string> methods;
    bool read_only_open = true;
  };
  struct Privilege {
    bool enabled = true;
    std::set<uid_t> super_uids{0};
    std::set<gid_t> super_gids;
  };
  struct Trust {
    bool enabled = true;
    std::string store = "/etc/crigate/trust.toml";
    std::string sandbox_image = "registry.k8s.io/pause:3.6";  // normalised after parsing
    std::string kubelet_root = "/var/lib/kubelet";
    std::shared_ptr<const TrustStore> loaded;  // set when enabled
  };
  struct Token {
    bool enabled = true;
    std::vector<std::string> keys{"/etc/crigate/keys"};
    std::set<std::string> required_for;
    std::chrono::seconds max_ttl{3600};
    size_t replay_cache_size = 100000;
    std::string use_store = "/var/lib/crigate/token-uses";
    std::string grant_dir = "/var/lib/crigate/token-grants";
    std::chrono::seconds clock_skew{30};
    std::shared_ptr<const KeySet> loaded;  // set when enabled
  };

  Gate gate;
  Privilege privilege;
  Trust trust;
  Token token;
  AuditOptions audit;
  std::string node_id;
  // [cloud], parsed by policy/cloud's ParseCloudConfig when that library is
  // built in; null in a build without it. Shared with the event sink.
  std::shared_ptr<const cloud::CloudConfig> cloud;

  // How much of the gate a method of a CRI service passes (policy/actions.h):
  // read-only (open), mutating (privilege + audit) or gated (every stage).
  // A method the table does not know is mutating.
  MethodClass ClassOf(CriService service, std::string_view method) const;
  bool Gates(std::string_view method) const {
    return ClassOf(CriService::kRuntime, method) == MethodClass::kGated ||
           ClassOf(CriService::kImage, method) == MethodClass::kGated;
  }
};

// Null with one message per problem in errors.
// This machine's host name ("" when it cannot be read): node.id's default.
std::string HostName();

std::shared_ptr<const PolicyConfig> ParsePolicyConfig(const toml::table& root,
                                                      std::vector<std::string>& errors);

// The sections ParsePolicyConfig reads ("cloud" included).
const std::set<std::string_view>& PolicySections();

// Fills config.cloud from root's [cloud] (policy/cloud's parser). In a build
// without policy/cloud, a [cloud] section that enables the cloud is an error:
// a gate must not silently skip a check it was configured to make.
void ParseCloudSection(const toml::table& root, PolicyConfig& config,
                       std::vector<std::string>& errors);

}  // namespace crigate::policy
