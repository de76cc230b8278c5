#include "policy/cloud/event_sink.h"

#include <fmt/format.h>

#include "policy/base/time.h"
#include "policy/cloud/cloud_authorizer.h"

namespace crigate::cloud {
namespace {

using nlohmann::json;

}  // namespace

EventSink::EventSink(EventSinkOptions options, std::unique_ptr<SignedHttpClient> client)
    : options_(std::move(options)), client_(std::move(client)), thread_([this] { Run(); }) {}

EventSink::~EventSink() { Shutdown(std::chrono::seconds(1)); }

void EventSink::Post(json event) {
  try {
    if (!event.is_object()) event = json{{"value", std::move(event)}};
    if (!event.contains("time"))
      event["time"] = base::FormatUtc(std::chrono::system_clock::now(), true);
    if (!event.contains("node")) {
      event["node"] = {{"id", options_.node.id}, {"mac", options_.node.mac}};
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.posted;
    if (stopping_) {
      ++stats_.dropped_shutdown;
      return;
    }
    if (!event.contains("seq")) event["seq"] = ++seq_;
    if (queue_.size() >= options_.queue_size) {
      queue_.pop_front();
      ++stats_.dropped_full;
    }
    queue_.push_back(std::move(event));
  } catch (...) {
    return;  // best effort: an event that cannot be built is not sent
  }
  wake_.notify_one();
}

std::string EventSink::BatchBody() const {
  json events = json::array();
  for (const json& e : batch_) events.push_back(e);
  return json{{"events", std::move(events)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

void EventSink::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  int attempts = 0;
  Clock::time_point next_try{};
  for (;;) {
    if (batch_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, and everything went out
      while (!queue_.empty() && batch_.size() < options_.batch_max) {
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      attempts = 0;
      next_try = Clock::now();
    }
    // Wait out the backoff, cut short by the flush deadline; re-check after
    // every wake-up (Post, Shutdown).
    const Clock::time_point until = stopping_ ? std::min(next_try, deadline_) : next_try;
    if (Clock::now() < until) {
      wake_.wait_until(lock, until);
      continue;
    }
    std::chrono::milliseconds timeout{0};  // the endpoint's
    if (stopping_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) break;
      timeout = left;
    }

    lock.unlock();
    HttpReply reply;
    try {
      reply = client_->Post(BatchBody(), timeout);
    } catch (const std::exception& e) {
      reply.error = e.what();
    }
    lock.lock();

    if (reply.answered && reply.status >= 200 && reply.status < 300) {
      stats_.delivered += batch_.size();
      batch_.clear();
      continue;
    }
    stats_.last_error = reply.answered ? fmt::format("HTTP status {}", reply.status) : reply.error;
    if (attempts >= options_.retry_max) {
      stats_.dropped_failed += batch_.size();
      batch_.clear();
      continue;
    }
    ++attempts;
    ++stats_.retries;
    auto backoff = options_.backoff_initial;
    for (int i = 1; i < attempts && backoff < options_.backoff_max; ++i) backoff *= 2;
    next_try = Clock::now() + std::min(backoff, options_.backoff_max);
  }
  stats_.dropped_shutdown += batch_.size() + queue_.size();
  batch_.clear();
  queue_.clear();
}

void EventSink::Shutdown(std::chrono::milliseconds flush_deadline) {
  std::lock_guard<std::mutex> serial(shutdown_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    deadline_ = Clock::now() + flush_deadline;
  }
  wake_.notify_all();
  thread_.join();
}

EventSinkStats EventSink::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EventSinkStats out = stats_;
  out.queued = queue_.size() + batch_.size();
  return out;
}

policy::Result<std::unique_ptr<EventSink>> MakeEventSink(const CloudConfig& config,
                                                         const std::string& node_id,
                                                         base::Source<NodeSigner> signer) {
  if (!config.enabled || config.events_url.empty()) return std::unique_ptr<EventSink>();
  try {
    EventSinkOptions options;
    options.node = {node_id, config.node_mac};
    options.queue_size = config.event_queue_size;
    options.retry_max = config.event_retry_max;
    if (!signer) signer = base::FixedSource(std::make_shared<const NodeSigner>(config.node_key));
    auto client =
        std::make_unique<SignedHttpClient>(EventEndpoint(config, node_id), std::move(signer));
    return std::make_unique<EventSink>(std::move(options), std::move(client));
  } catch (const std::exception& e) {
    return policy::Fail(base::Code::INTERNAL, fmt::format("cloud events: {}", e.what()));
  }
}

}  // namespace crigate::cloud
