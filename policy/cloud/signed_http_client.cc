#include "policy/cloud/signed_http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>

namespace crigate::cloud {
namespace {

constexpr size_t kMaxIdleHandles = 8;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A header value must not break the request: control characters become '_'.
std::string HeaderSafe(std::string_view value) {
  std::string out(value);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out;
}

struct AnswerSink {
  std::string body;
  bool too_large = false;
};

size_t WriteAnswer(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<AnswerSink*>(user);
  const size_t n = size * count;
  if (sink->body.size() + n > kMaxAnswerBytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  try {
    sink->body.append(data, n);
  } catch (...) {
    return 0;
  }
  return n;
}

}  // namespace

NodeSigner::NodeSigner(std::string key) : key_(std::move(key)) {}

NodeSigner::~NodeSigner() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string NodeSigner::Sign(std::string_view timestamp, std::string_view body) const {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append("\n").append(body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
            &mac_len)) {
    return "hmac-sha256=";  // the server refuses it; HMAC fails only without memory
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "hmac-sha256=";
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

struct SignedHttpClient::Share {
  CURLSH* handle = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Share*>(user)->locks[data].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->locks[data].unlock();
  }
};

SignedHttpClient::SignedHttpClient(HttpEndpoint endpoint, base::Source<NodeSigner> signer)
    : endpoint_(std::move(endpoint)),
      signer_(std::move(signer)),
      share_(std::make_unique<Share>()) {
  GlobalInit();
  share_->handle = curl_share_init();
  if (share_->handle) {
    curl_share_setopt(share_->handle, CURLSHOPT_LOCKFUNC, &Share::Lock);
    curl_share_setopt(share_->handle, CURLSHOPT_UNLOCKFUNC, &Share::Unlock);
    curl_share_setopt(share_->handle, CURLSHOPT_USERDATA, share_.get());
    curl_share_setopt(share_->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

SignedHttpClient::~SignedHttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
  idle_.clear();
  if (share_->handle) curl_share_cleanup(share_->handle);
}

void* SignedHttpClient::NewHandle() {
  CURL* h = curl_easy_init();
  if (!h) return nullptr;
  curl_easy_setopt(h, CURLOPT_URL, endpoint_.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // never an environment proxy
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteAnswer);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (!endpoint_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
  if (!endpoint_.cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, endpoint_.cert_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, endpoint_.key_file.c_str());
  }
  if (share_->handle) curl_easy_setopt(h, CURLOPT_SHARE, share_->handle);
  return h;
}

void* SignedHttpClient::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return NewHandle();
}

void SignedHttpClient::Release(void* handle, bool reusable) {
  if (reusable) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

HttpReply SignedHttpClient::Post(const std::string& body, std::chrono::milliseconds timeout) {
  HttpReply reply;
  try {
    CURL* h = static_cast<CURL*>(Acquire());
    if (!h) {
      reply.error = "cannot create a curl handle";
      return reply;
    }
    if (timeout.count() <= 0 || timeout > endpoint_.timeout) timeout = endpoint_.timeout;
    const auto connect_timeout = std::min(timeout, endpoint_.connect_timeout);

    const std::string timestamp =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    const std::string lines[] = {
        "Content-Type: application/json",
        "Accept: application/json",
        "Expect:",  // no 100-continue round trip
        "X-Crigate-Node: " + HeaderSafe(endpoint_.node_id),
        "X-Crigate-Timestamp: " + timestamp,
        "X-Crigate-Signature: " + signer_()->Sign(timestamp, body),
    };
    curl_slist* headers = nullptr;
    for (const std::string& line : lines) {
      curl_slist* next = curl_slist_append(headers, line.c_str());
      if (!next) break;
      headers = next;
    }

    AnswerSink sink;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));

    const CURLcode rc = curl_easy_perform(h);

    // The handle must not keep pointers into this frame.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);
    curl_slist_free_all(headers);

    if (rc == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
      reply.answered = true;
      reply.body = std::move(sink.body);
    } else {
      const std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        reply.timed_out = true;
        reply.error = fmt::format("no answer within {} ms ({})", timeout.count(), detail);
      } else if (sink.too_large) {
        reply.error = fmt::format("answer larger than {} bytes", kMaxAnswerBytes);
      } else {
        reply.error = detail;
      }
    }
    Release(h, rc == CURLE_OK);
  } catch (const std::exception& e) {
    reply.answered = false;
    reply.error = fmt::format("request failed: {}", e.what());
  }
  return reply;
}

}  // namespace crigate::cloud
