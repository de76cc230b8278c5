// Asking the cloud whether a call may run. Authorizer is transport-neutral
// (tests and other transports implement it); HttpAuthorizer speaks OPA's
// Data API shape over libcurl:
//
//   POST <url>   {"input": {...}}                      (see authz_input.h)
//   200          {"result": {"allow": true|false, "reason": "..."}, "decision_id": "..."}
//
// Three outcomes, not two:
//   allowed  200 and result.allow is the JSON boolean true
//   denied   200 and result.allow is false, or the answer is malformed: not
//            JSON, no result object, allow missing or not a boolean ("true",
//            1). The cloud did answer, so failure_mode_allow never applies.
//   error    no answer: refused, timed out, TLS failure, or a status other than 200
#pragma once

#include <memory>
#include <string>

#include "policy/base/status.h"
#include "policy/cloud/authz_input.h"
#include "policy/cloud/cloud_config.h"
#include "policy/cloud/signed_http_client.h"

namespace crigate::cloud {

struct AuthzAnswer {
  enum class Outcome { kAllowed, kDenied, kError };

  Outcome outcome = Outcome::kError;
  std::string reason;       // the cloud's (allowed, denied) or what went wrong (error)
  std::string decision_id;  // the cloud's, when it sent one
  bool malformed = false;   // denied because the answer was not a decision

  static AuthzAnswer Allowed(std::string reason, std::string decision_id) {
    return {Outcome::kAllowed, std::move(reason), std::move(decision_id), false};
  }
  static AuthzAnswer Denied(std::string reason, std::string decision_id) {
    return {Outcome::kDenied, std::move(reason), std::move(decision_id), false};
  }
  static AuthzAnswer Malformed(std::string what, std::string decision_id = {}) {
    return {Outcome::kDenied, std::move(what), std::move(decision_id), true};
  }
  static AuthzAnswer Error(std::string what) {
    return {Outcome::kError, std::move(what), {}, false};
  }
};

// Thread-safe. Check returns within the implementation's timeout and never
// throws.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual AuthzAnswer Check(const AuthzInput& input) = 0;
};

// Maps one HTTP reply to an answer; separate so that the mapping is tested
// without a server.
AuthzAnswer InterpretReply(const HttpReply& reply);

class HttpAuthorizer final : public Authorizer {
 public:
  // node_key: the key already read (cloud.node_key_file).
  HttpAuthorizer(HttpEndpoint endpoint, std::string node_key);

  AuthzAnswer Check(const AuthzInput& input) override;

 private:
  SignedHttpClient client_;
};

// The decision endpoint of config (url, timeouts, TLS files, node key).
HttpEndpoint DecisionEndpoint(const CloudConfig& config, const std::string& node_id);
// The event endpoint of config (events_url, same TLS files and timeouts).
HttpEndpoint EventEndpoint(const CloudConfig& config, const std::string& node_id);

}  // namespace crigate::cloud
