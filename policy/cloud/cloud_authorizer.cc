#include "policy/cloud/cloud_authorizer.h"

#include <fmt/format.h>

#include "policy/base/metrics.h"

namespace crigate::cloud {
namespace {

using nlohmann::json;

constexpr size_t kMaxReasonBytes = 512;
constexpr size_t kMaxQuotedBytes = 80;

// The cloud's text goes into gRPC status messages and the audit log: one
// line, bounded.
std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  }
  return out;
}

std::string TypeName(const json& j) { return j.type_name(); }

// A decision the cloud did not give: no answer in time, no connection, an
// HTTP error, an answer that is no decision, or a failure of our own.
base::CounterFamily& CloudErrors() {
  static base::CounterFamily& errors = base::DefaultRegistry().Counters(
      "crigate_cloud_errors_total",
      "Cloud authorization requests that brought no decision, by kind (timeout, transport, "
      "http_status, malformed, exception).",
      {"kind"});
  return errors;
}

void CountCloudError(std::string_view kind) { CloudErrors().With({kind}).Inc(); }

HttpEndpoint EndpointFor(const CloudConfig& config, const std::string& url,
                         const std::string& node_id) {
  HttpEndpoint e;
  e.url = url;
  e.timeout = config.timeout;
  e.connect_timeout = config.connect_timeout;
  e.ca_file = config.ca_file;
  e.cert_file = config.cert_file;
  e.key_file = config.key_file;
  e.node_id = node_id;
  return e;
}

}  // namespace

HttpEndpoint DecisionEndpoint(const CloudConfig& config, const std::string& node_id) {
  return EndpointFor(config, config.url, node_id);
}

HttpEndpoint EventEndpoint(const CloudConfig& config, const std::string& node_id) {
  return EndpointFor(config, config.events_url, node_id);
}

AuthzAnswer InterpretReply(const HttpReply& reply) {
  if (!reply.answered) return AuthzAnswer::Error(reply.error);
  if (reply.status != 200) {
    return AuthzAnswer::Error(fmt::format("HTTP status {} (\"{}\")", reply.status,
                                          Printable(reply.body, kMaxQuotedBytes)));
  }
  const json answer = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded()) {
    return AuthzAnswer::Malformed(
        fmt::format("malformed answer: not JSON (\"{}\")", Printable(reply.body, kMaxQuotedBytes)));
  }
  if (!answer.is_object()) {
    return AuthzAnswer::Malformed(
        fmt::format("malformed answer: a JSON {}, not an object", TypeName(answer)));
  }
  std::string decision_id;
  if (auto it = answer.find("decision_id"); it != answer.end() && it->is_string()) {
    decision_id = Printable(it->get<std::string>(), kMaxQuotedBytes);
  }
  auto result = answer.find("result");
  if (result == answer.end()) {
    return AuthzAnswer::Malformed("malformed answer: no result (is the policy defined?)",
                                  decision_id);
  }
  if (!result->is_object()) {
    return AuthzAnswer::Malformed(
        fmt::format("malformed answer: result is a {}, not an object", TypeName(*result)),
        decision_id);
  }
  std::string reason;
  if (auto it = result->find("reason"); it != result->end() && it->is_string()) {
    reason = Printable(it->get<std::string>(), kMaxReasonBytes);
  }
  auto allow = result->find("allow");
  if (allow == result->end()) {
    return AuthzAnswer::Malformed("malformed answer: no result.allow", decision_id);
  }
  if (!allow->is_boolean()) {
    return AuthzAnswer::Malformed(
        fmt::format("malformed answer: result.allow is a {} ({}), not a boolean", TypeName(*allow),
                    Printable(allow->dump(-1, ' ', false, json::error_handler_t::replace),
                              kMaxQuotedBytes)),
        decision_id);
  }
  if (allow->get<bool>()) return AuthzAnswer::Allowed(std::move(reason), std::move(decision_id));
  if (reason.empty()) reason = "no reason given";
  return AuthzAnswer::Denied(std::move(reason), std::move(decision_id));
}

HttpAuthorizer::HttpAuthorizer(HttpEndpoint endpoint, std::string node_key)
    : client_(std::move(endpoint), std::make_shared<const NodeSigner>(std::move(node_key))) {
  CloudErrors();  // the family's HELP and TYPE from the start
}

AuthzAnswer HttpAuthorizer::Check(const AuthzInput& input) {
  try {
    const HttpReply reply = client_.Post(input.RequestBody());
    AuthzAnswer answer = InterpretReply(reply);
    if (answer.outcome == AuthzAnswer::Outcome::kError || answer.malformed) {
      CountCloudError(!reply.answered    ? (reply.timed_out ? "timeout" : "transport")
                      : answer.malformed ? "malformed"
                                         : "http_status");
    }
    if (answer.outcome == AuthzAnswer::Outcome::kError) {
      answer.reason = fmt::format("POST {}: {}", client_.endpoint().url, answer.reason);
    }
    return answer;
  } catch (const std::exception& e) {
    CountCloudError("exception");
    return AuthzAnswer::Error(fmt::format("request failed: {}", e.what()));
  }
}

}  // namespace crigate::cloud
