// One signed JSON POST to a cloud endpoint: the transport shared by the
// authorizer and the event sink. Every request carries
//   Content-Type: application/json
//   X-Crigate-Node: <node id>
//   X-Crigate-Timestamp: <unix seconds>
//   X-Crigate-Signature: hmac-sha256=<lowercase hex>   over timestamp + "\n" + body
// with the node key. https URLs verify the server's certificate and host name
// (against ca_file, or the system's CAs) and present cert_file/key_file when
// set (mTLS). No proxy from the environment, no redirects, http(s) only.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "policy/base/latest.h"

namespace crigate::cloud {

// The node's HMAC key, wiped when the signer goes. Immutable and so
// thread-safe: a new node key is a new NodeSigner (a reload swaps it in).
class NodeSigner final {
 public:
  explicit NodeSigner(std::string key);
  ~NodeSigner();
  NodeSigner(const NodeSigner&) = delete;
  NodeSigner& operator=(const NodeSigner&) = delete;
  // "hmac-sha256=<hex>" over timestamp + "\n" + body.
  std::string Sign(std::string_view timestamp, std::string_view body) const;

 private:
  std::string key_;
};

struct HttpEndpoint {
  std::string url;
  std::chrono::milliseconds timeout{2000};          // the whole call
  std::chrono::milliseconds connect_timeout{1000};  // TCP + TLS handshake
  std::string ca_file;                              // "" : the system's CA bundle
  std::string cert_file;                            // client certificate; "" : none
  std::string key_file;
  std::string node_id;
};

struct HttpReply {
  bool answered = false;  // a complete HTTP response arrived (any status)
  bool timed_out = false;
  long status = 0;
  std::string body;   // capped at kMaxAnswerBytes
  std::string error;  // when !answered: what went wrong, for the operator
};

inline constexpr size_t kMaxAnswerBytes = size_t{256} * 1024;

// Thread-safe. Keeps a few idle curl handles so that their connections (and
// TLS sessions) are reused between calls; a call never waits for another.
class SignedHttpClient final {
 public:
  // Each request is signed with the signer current when it is sent.
  SignedHttpClient(HttpEndpoint endpoint, base::Source<NodeSigner> signer);
  SignedHttpClient(HttpEndpoint endpoint, std::shared_ptr<const NodeSigner> signer)
      : SignedHttpClient(std::move(endpoint), base::FixedSource(std::move(signer))) {}
  ~SignedHttpClient();
  SignedHttpClient(const SignedHttpClient&) = delete;
  SignedHttpClient& operator=(const SignedHttpClient&) = delete;

  // Never throws. timeout, when positive and shorter, replaces the
  // endpoint's for this call (a flush at shutdown).
  HttpReply Post(const std::string& body, std::chrono::milliseconds timeout = {});

  const HttpEndpoint& endpoint() const { return endpoint_; }

 private:
  void* NewHandle();  // CURL*, configured with everything that does not change per call
  void* Acquire();
  void Release(void* handle, bool reusable);

  // Constant after construction.
  const HttpEndpoint endpoint_;
  const base::Source<NodeSigner> signer_;
  struct Share;  // DNS cache and TLS sessions shared by the handles, with their locks
  std::unique_ptr<Share> share_;

  std::mutex mu_;
  std::vector<void*> idle_;  // protected by mu_
};

}  // namespace crigate::cloud
