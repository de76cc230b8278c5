// Test servers for policy/cloud: a raw-socket HTTP server on loopback whose
// answers the test writes byte for byte (garbage, slow, wrong status), and
// the reference authorizer (test/authz/crigate-authz.py) as a child process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace crigate::cloud::testing {

// A node key (32 bytes) the tests sign and verify with.
inline const std::string kNodeKey = "0123456789abcdef0123456789abcdef";

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// One connection at a time, one request per connection (it answers with
// "Connection: close"), on 127.0.0.1.
class LoopbackServer final {
 public:
  // The raw bytes to send back; "" closes the connection without an answer.
  using Handler = std::function<std::string(const HttpRequest&)>;

  // port 0: any free port. Listens before returning.
  explicit LoopbackServer(Handler handler, uint16_t port = 0);
  ~LoopbackServer();

  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/v1/data/crigate/allow") const;
  int hits() const { return hits_.load(); }
  std::vector<HttpRequest> requests() const;
  // Every answer from now on is sent this much later (interrupted by the
  // server's destruction).
  void set_delay(std::chrono::milliseconds delay) { delay_ms_.store(delay.count()); }

  // "HTTP/1.1 <status> X\r\nContent-Type: ...\r\nContent-Length: ...\r\nConnection:
  // close\r\n\r\n<body>"
  static std::string Response(int status, const std::string& body,
                              const std::string& content_type = "application/json");
  // A loopback port nothing listens on (bound, read, closed).
  static uint16_t UnusedPort();

 private:
  void Run();
  void Serve(int fd);

  const Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> hits_{0};
  std::atomic<int64_t> delay_ms_{0};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::vector<HttpRequest> requests_;  // protected by mu_
  std::thread thread_;
};

// A private directory under /tmp, removed with everything in it.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes name with content and mode; returns the full path.
  std::string Write(const std::string& name, const std::string& content, int mode = 0600) const;

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path);

struct AuthzStats {
  int decisions = -1;  // -1: the stats could not be read
  int events = -1;
  int rejected = -1;
};

// test/authz/crigate-authz.py on a free loopback port, stopped on destruction.
class AuthzProcess final {
 public:
  // extra_args: e.g. {"--rules", path, "--node-key", key}. Check ok() after.
  explicit AuthzProcess(std::vector<std::string> extra_args, bool https = false);
  ~AuthzProcess();

  bool ok() const { return port_ != 0; }
  std::string error() const { return error_; }
  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/v1/data/crigate/allow") const;
  std::string log() const { return ReadAll(dir_.File("authz.log")); }
  // GET /v1/stats. For https servers, pass the client TLS files.
  AuthzStats Stats(const std::string& ca = {}, const std::string& cert = {},
                   const std::string& key = {}) const;

 private:
  TempDir dir_;
  bool https_ = false;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

// Runs test/authz/make-certs.sh into dir; false (with output in error) when
// it fails, e.g. without the openssl command.
bool MakeCerts(const std::string& dir, std::string& error);

}  // namespace crigate::cloud::testing
