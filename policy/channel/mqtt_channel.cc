#include "policy/channel/mqtt_channel.h"

#include <fmt/format.h>
#include <mosquitto.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <random>

#include "policy/base/files.h"
#include "policy/base/time.h"

namespace crigate::channel {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A PUBACK that has not come this long after a (re)connection means the
// broker lost the publish with its session: send it again (the cloud tells
// a duplicate by its id).
constexpr std::chrono::seconds kInflightRetry{20};
// How long the TCP probe before each connection attempt waits for the broker.
constexpr std::chrono::seconds kConnectTimeout{5};

std::string RandomId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

std::string MosqError(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return base::ErrnoText(errno);
  return mosquitto_strerror(rc);
}

void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

}  // namespace

base::Result<std::unique_ptr<MqttChannel>> MqttChannel::Create(
    ChannelConfig config, NodeFacts node, std::unique_ptr<EventSpool> spool,
    std::unique_ptr<BundleApplier> bundles, OutcomeHook on_outcome, LogHook log) {
  if (!spool || !bundles) return base::Status::Internal("channel started without spool or bundles");
  base::SecretRules key_rules;
  key_rules.min_bytes = 32;
  key_rules.max_bytes = 64 << 10;
  if (!config.key_file.empty()) {
    // libmosquitto reads the key itself; this only checks that nobody but
    // root can have written or read it.
    base::Result<base::Secret> key = base::ReadSecretFile(config.key_file, key_rules);
    if (!key.ok()) return base::Status(key.code(), "channel.key_file: " + key.error());
  }
  std::string password;
  if (!config.password_file.empty()) {
    base::SecretRules rules;
    rules.min_bytes = 1;
    base::Result<base::Secret> secret = base::ReadSecretFile(config.password_file, rules);
    if (!secret.ok())
      return base::Status(secret.code(), "channel.password_file: " + secret.error());
    secret->TrimRight();
    password = secret->bytes();
  }
  InitLibraryOnce();
  std::unique_ptr<MqttChannel> channel(
      new MqttChannel(std::move(config), std::move(node), std::move(spool), std::move(bundles),
                      std::move(on_outcome), std::move(log), std::move(password)));
  if (!channel->Setup()) {
    return base::Status::InvalidArgument("channel: " + channel->stats().last_error);
  }
  return channel;
}

void MqttChannel::Start() {
  if (!thread_.joinable()) thread_ = std::thread(&MqttChannel::Run, this);
}

MqttChannel::MqttChannel(ChannelConfig config, NodeFacts node, std::unique_ptr<EventSpool> spool,
                         std::unique_ptr<BundleApplier> bundles, OutcomeHook on_outcome,
                         LogHook log, std::string password)
    : config_(std::move(config)),
      node_(std::move(node)),
      spool_(std::move(spool)),
      bundles_(std::move(bundles)),
      on_outcome_(std::move(on_outcome)),
      log_(std::move(log)),
      password_(std::move(password)),
      policy_topic_(config_.Topic(node_.id, "policy")),
      ack_topic_(config_.Topic(node_.id, "policy/ack")),
      events_topic_(config_.Topic(node_.id, "events")),
      status_topic_(config_.Topic(node_.id, "status")) {}

MqttChannel::~MqttChannel() {
  Stop();
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

bool MqttChannel::Setup() {
  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_error = std::move(what);
    return false;
  };
  mosq_ = mosquitto_new(config_.client_id.c_str(), /*clean_session=*/false, this);
  if (mosq_ == nullptr) return fail("mosquitto_new: " + base::ErrnoText(errno));
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (config_.tls) {
    int rc =
        mosquitto_tls_set(mosq_, config_.ca_file.c_str(), nullptr,
                          config_.cert_file.empty() ? nullptr : config_.cert_file.c_str(),
                          config_.key_file.empty() ? nullptr : config_.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return fail("TLS files: " + MosqError(rc));
    rc = mosquitto_tls_opts_set(mosq_, /*SSL_VERIFY_PEER*/ 1, "tlsv1.2", nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return fail("TLS options: " + MosqError(rc));
  }
  if (!config_.username.empty()) {
    int rc = mosquitto_username_pw_set(mosq_, config_.username.c_str(), password_.c_str());
    if (rc != MOSQ_ERR_SUCCESS) return fail("username: " + MosqError(rc));
  }
  const std::string will = StatusPayload("offline", "connection lost");
  int rc = mosquitto_will_set(mosq_, status_topic_.c_str(), static_cast<int>(will.size()),
                              will.data(), 1, /*retain=*/true);
  if (rc != MOSQ_ERR_SUCCESS) return fail("last will: " + MosqError(rc));
  mosquitto_connect_callback_set(mosq_, &MqttChannel::OnConnect);
  mosquitto_disconnect_callback_set(mosq_, &MqttChannel::OnDisconnect);
  mosquitto_message_callback_set(mosq_, &MqttChannel::OnMessage);
  mosquitto_publish_callback_set(mosq_, &MqttChannel::OnPublish);
  return true;
}

base::Status MqttChannel::Post(json event) {
  if (StopRequested()) return base::Status(base::Code::FAILED_PRECONDITION, "channel stopped");
  if (!event.is_object()) return base::Status::InvalidArgument("event is not a JSON object");
  if (!event.contains("id")) event["id"] = RandomId();
  if (!event.contains("time")) {
    event["time"] = base::FormatUtc(base::SystemClock::Instance().Now(), true);
  }
  if (!event.contains("node")) event["node"] = {{"id", node_.id}, {"mac", node_.mac}};
  return spool_->Append(event.dump(-1, ' ', false, json::error_handler_t::replace));
}

void MqttChannel::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ChannelStats MqttChannel::stats() const {
  ChannelStats out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = stats_;
  }
  out.spool = spool_->stats();
  out.policy_version = bundles_->version();
  return out;
}

std::string MqttChannel::StatusPayload(const char* state, const char* reason) const {
  json status = {{"state", state},
                 {"node", {{"id", node_.id}, {"mac", node_.mac}}},
                 {"time", base::FormatUtc(base::SystemClock::Instance().Now(), true)}};
  if (reason != nullptr) status["reason"] = reason;
  if (std::string_view(state) == "online") {
    SpoolStats spool = spool_->stats();
    status["crigate_version"] = node_.crigate_version;
    status["policy_version"] = bundles_->version();
    status["spool"] = {{"depth", spool.depth}, {"dropped", spool.dropped}};
  }
  return status.dump();
}

void MqttChannel::Publish(const std::string& topic, const std::string& payload, bool retain) {
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), 1, retain);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_error = fmt::format("publish to {}: {}", topic, MosqError(rc));
  }
}

void MqttChannel::WaitBackoff(milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, delay, [&] { return stopping_; });
}

void MqttChannel::Run() {
  bool connected_once = false;  // mosquitto_connect first, mosquitto_reconnect after
  bool socket_open = false;
  milliseconds backoff = config_.reconnect_min;
  auto lost = [&](const std::string& why) {
    socket_open = false;
    if (session_) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.connection_losses;
      stats_.connected = false;
    }
    session_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.last_error = why;
    }
    if (!reported_loss_) {
      reported_loss_ = true;
      Note(true, fmt::format("{}; retrying every {}..{} ms, events are spooled meanwhile", why,
                             config_.reconnect_min.count(), config_.reconnect_max.count()));
    }
    WaitBackoff(backoff);
    backoff = std::min(backoff * 2, config_.reconnect_max);
  };
  while (!StopRequested()) {
    if (!socket_open) {
      // libmosquitto's connect blocks in connect(2): towards a broker whose
      // route is dead that is the kernel's SYN retries, about two minutes,
      // and Stop (a drain at SIGTERM) would wait them out. So a TCP probe of
      // our own, bounded and stoppable, goes first. (mosquitto_connect_async
      // is no way out in 2.0.11: after a refused connect its loop spins and
      // never reconnects, seen here.)
      std::string unreachable;
      if (!BrokerAnswers(&unreachable)) {
        if (StopRequested()) break;
        lost(unreachable);
        continue;
      }
      int rc = connected_once ? mosquitto_reconnect(mosq_)
                              : mosquitto_connect(mosq_, config_.host.c_str(), config_.port,
                                                  static_cast<int>(config_.keepalive.count()));
      if (rc != MOSQ_ERR_SUCCESS) {
        lost(fmt::format("cannot connect to {}:{}: {}", config_.host, config_.port, MosqError(rc)));
        continue;
      }
      connected_once = true;
      socket_open = true;
    }
    int rc = mosquitto_loop(mosq_, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      lost(fmt::format("connection to {}:{} lost: {}", config_.host, config_.port, MosqError(rc)));
      continue;
    }
    if (session_) {
      backoff = config_.reconnect_min;
      PumpEvents();
    }
  }
  if (session_) {
    // A clean DISCONNECT discards the Will, so say "offline" ourselves, and
    // give the broker a moment to take it.
    const std::string offline = StatusPayload("offline", "crigate stopped");
    int mid = -1;
    if (mosquitto_publish(mosq_, &mid, status_topic_.c_str(), static_cast<int>(offline.size()),
                          offline.data(), 1, true) == MOSQ_ERR_SUCCESS) {
      for (int i = 0; i < 10 && mosquitto_want_write(mosq_); ++i) mosquitto_loop(mosq_, 50, 1);
      mosquitto_loop(mosq_, 50, 1);
    }
    mosquitto_disconnect(mosq_);
    mosquitto_loop(mosq_, 50, 1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.connected = false;
}

bool MqttChannel::StopRequested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool MqttChannel::BrokerAnswers(std::string* why) const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(config_.port);
  if (int rc = getaddrinfo(config_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *why = fmt::format("cannot resolve {}: {}", config_.host, gai_strerror(rc));
    return false;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  *why = fmt::format("cannot connect to {}:{}", config_.host, config_.port);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int err = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    const auto until = std::chrono::steady_clock::now() + kConnectTimeout;
    while (err == EINPROGRESS && !StopRequested() && std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 100) > 0) {
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    close(fd);
    if (err == 0) return true;
    *why = fmt::format("cannot connect to {}:{}: {}", config_.host, config_.port,
                       err == EINPROGRESS ? std::string("no answer within ") +
                                                std::to_string(kConnectTimeout.count()) + " s"
                                          : base::ErrnoText(err));
    if (StopRequested()) return false;
  }
  return false;
}

void MqttChannel::PumpEvents() {
  const auto now = std::chrono::steady_clock::now();
  if (inflight_seq_ != 0 && now - inflight_since_ < kInflightRetry) return;
  std::optional<SpooledEvent> next = spool_->Front();
  if (!next) {
    inflight_seq_ = 0;
    return;
  }
  int mid = -1;
  int rc =
      mosquitto_publish(mosq_, &mid, events_topic_.c_str(), static_cast<int>(next->payload.size()),
                        next->payload.data(), 1, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_error = "publish event: " + MosqError(rc);
    return;
  }
  inflight_seq_ = next->seq;
  inflight_mid_ = mid;
  inflight_since_ = now;
}

void MqttChannel::OnConnect(mosquitto* m, void* self_ptr, int rc) {
  auto* self = static_cast<MqttChannel*>(self_ptr);
  if (rc != 0) {
    // Said once per outage, with the broker's reason (the loss that follows
    // would only say the connection was closed).
    const std::string why =
        fmt::format("broker {}:{} refused the connection: {}", self->config_.host,
                    self->config_.port, mosquitto_connack_string(rc));
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->stats_.last_error = why;
    }
    if (!self->reported_loss_) {
      self->reported_loss_ = true;
      self->Note(true, why);
    }
    return;  // the loop sees the broker close the connection and backs off
  }
  self->session_ = true;
  self->reported_loss_ = false;
  self->Note(false,
             fmt::format("connected to broker {}:{} as {}; subscribed to {}", self->config_.host,
                         self->config_.port, self->config_.client_id, self->policy_topic_));
  // An event in flight when the connection dropped is resent by libmosquitto
  // with the session; give its PUBACK the full retry time from now.
  self->inflight_since_ = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    ++self->stats_.connects;
    self->stats_.connected = true;
  }
  mosquitto_subscribe(m, nullptr, self->policy_topic_.c_str(), 1);
  self->Publish(self->status_topic_, self->StatusPayload("online", nullptr), true);
}

void MqttChannel::OnDisconnect(mosquitto*, void* self_ptr, int) {
  auto* self = static_cast<MqttChannel*>(self_ptr);
  self->session_ = false;
  std::lock_guard<std::mutex> lock(self->mu_);
  self->stats_.connected = false;
}

void MqttChannel::OnMessage(mosquitto*, void* self_ptr, const mosquitto_message* message) {
  auto* self = static_cast<MqttChannel*>(self_ptr);
  if (message->topic == nullptr || self->policy_topic_ != message->topic) return;
  // An empty retained message is the cloud clearing the topic: no bundle.
  if (message->payloadlen <= 0) return;
  BundleOutcome outcome = self->bundles_->Offer(std::string_view(
      static_cast<const char*>(message->payload), static_cast<size_t>(message->payloadlen)));
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (outcome.kind == BundleOutcome::Kind::kApplied) ++self->stats_.bundles_applied;
    if (outcome.kind == BundleOutcome::Kind::kRefused) ++self->stats_.bundles_refused;
  }
  if (self->on_outcome_) self->on_outcome_(outcome);
  json ack = {{"node", self->node_.id},
              {"version", outcome.version},
              {"result", KindName(outcome.kind)},
              {"in_force", outcome.in_force},
              {"time", base::FormatUtc(base::SystemClock::Instance().Now(), true)}};
  if (!outcome.reason.empty()) ack["reason"] = outcome.reason;
  if (!outcome.signed_by.empty()) ack["signed_by"] = outcome.signed_by;
  self->Publish(self->ack_topic_, ack.dump(-1, ' ', false, json::error_handler_t::replace), false);
}

void MqttChannel::OnPublish(mosquitto*, void* self_ptr, int mid) {
  auto* self = static_cast<MqttChannel*>(self_ptr);
  if (self->inflight_seq_ == 0 || mid != self->inflight_mid_) return;
  base::Status removed = self->spool_->Remove(self->inflight_seq_);
  self->inflight_seq_ = 0;
  self->inflight_mid_ = -1;
  std::lock_guard<std::mutex> lock(self->mu_);
  ++self->stats_.events_sent;
  if (!removed.ok()) self->stats_.last_error = removed.message();
}

}  // namespace crigate::channel
