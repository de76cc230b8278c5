// crigate's whole config file: arbitrary TOML through every section's
// parser, as the daemon reads it at start and on SIGHUP. The parsers read
// no files; errors are collected, never thrown.
#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cri/daemon/approval_minter.h"
#include "cri/daemon/config.h"
#include "monitor/monitor_config.h"
#include "policy/policy_config.h"
#include "policy/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error&) {
    return 0;
  }
  std::vector<std::string> errors;
  crigate::cri::DaemonConfig daemon;
  (void)crigate::cri::ParseDaemonConfig(root, &daemon, &errors);
  (void)crigate::policy::ParsePolicyConfig(root, errors);
  (void)crigate::monitor::ParseMonitorConfig(root, errors);
  (void)crigate::cri::ParseApprovalConfig(root, errors);
  // The same text as a trust store.
  (void)crigate::policy::TrustStore::Parse(root, "fuzz.toml", errors);
  return 0;
}
