#include "policy/cloud/event_sink.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "policy/base/latest.h"
#include "policy/cloud/testing/loopback_server.h"

namespace crigate::cloud {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::LoopbackServer;

std::unique_ptr<SignedHttpClient> Client(const std::string& url) {
  HttpEndpoint e;
  e.url = url;
  e.timeout = 1000ms;
  e.connect_timeout = 1000ms;
  e.node_id = "edge-1";
  return std::make_unique<SignedHttpClient>(e, std::make_shared<NodeSigner>(testing::kNodeKey));
}

EventSinkOptions SinkOptions() {
  EventSinkOptions o;
  o.node = {"edge-1", "02:00:00:00:00:01"};
  o.backoff_initial = 50ms;
  o.backoff_max = 100ms;
  return o;
}

LoopbackServer::Handler Ok() {
  return [](const testing::HttpRequest&) {
    return LoopbackServer::Response(200, R"({"accepted": 1})");
  };
}

// The events the server received, in order.
std::vector<json> Received(const LoopbackServer& server) {
  std::vector<json> out;
  for (const testing::HttpRequest& r : server.requests()) {
    const json body = json::parse(r.body);
    for (const json& e : body.at("events")) out.push_back(e);
  }
  return out;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = 3000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::string Url(uint16_t port) { return fmt::format("http://127.0.0.1:{}/v1/events", port); }

TEST(EventSink, DeliversSignedBatchesWithNodeTimeAndSeq) {
  LoopbackServer server(Ok());
  EventSink sink(SinkOptions(), Client(server.Url("/v1/events")));
  for (int i = 0; i < 5; ++i) sink.Post({{"type", "monitor_stop"}, {"n", i}});
  sink.Shutdown(2000ms);
  const std::vector<json> events = Received(server);
  ASSERT_EQ(events.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[i]["n"], i);
    EXPECT_EQ(events[i]["seq"], i + 1);
    EXPECT_EQ(events[i]["node"], json({{"id", "edge-1"}, {"mac", "02:00:00:00:00:01"}}));
    EXPECT_TRUE(events[i]["time"].is_string());
  }
  const testing::HttpRequest r = server.requests().at(0);
  EXPECT_EQ(r.path, "/v1/events");
  EXPECT_EQ(r.headers.at("x-crigate-signature"),
            NodeSigner(testing::kNodeKey).Sign(r.headers.at("x-crigate-timestamp"), r.body));
  EXPECT_EQ(sink.stats().delivered, 5u);
  EXPECT_EQ(sink.stats().queued, 0u);
}

TEST(EventSink, QueueIsBoundedDropsOldestAndPostNeverBlocks) {
  const uint16_t port = LoopbackServer::UnusedPort();
  EventSinkOptions options = SinkOptions();
  options.queue_size = 3;
  options.batch_max = 1;
  options.retry_max = 100;
  EventSink sink(options, Client(Url(port)));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 10; ++i) sink.Post({{"n", i}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  EventSinkStats stats = sink.stats();
  EXPECT_EQ(stats.posted, 10u);
  EXPECT_LE(stats.queued, 3u + 1u);  // the queue plus one batch in flight
  EXPECT_GE(stats.dropped_full, 6u);
  EXPECT_EQ(stats.dropped_full + stats.queued, 10u);

  // When the cloud comes back, the newest events are the ones delivered.
  LoopbackServer server(Ok(), port);
  ASSERT_TRUE(WaitFor([&] { return sink.stats().queued == 0; }));
  std::vector<json> events = Received(server);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back()["n"], 10);
  EXPECT_EQ(events[events.size() - 3]["n"], 8);
}

TEST(EventSink, RetriesUntilTheCloudComesBack) {
  const uint16_t port = LoopbackServer::UnusedPort();
  EventSinkOptions options = SinkOptions();
  options.retry_max = 100;
  EventSink sink(options, Client(Url(port)));
  for (int i = 0; i < 3; ++i) sink.Post({{"n", i}});
  ASSERT_TRUE(WaitFor([&] { return sink.stats().retries >= 2; }));
  EXPECT_EQ(sink.stats().delivered, 0u);
  EXPECT_FALSE(sink.stats().last_error.empty());

  LoopbackServer server(Ok(), port);
  ASSERT_TRUE(WaitFor([&] { return sink.stats().delivered == 3; }));
  EXPECT_EQ(Received(server).size(), 3u);
}

TEST(EventSink, RetriesNon2xxAndDropsAfterRetryMax) {
  LoopbackServer server(
      [](const testing::HttpRequest&) { return LoopbackServer::Response(500, "{}"); });
  EventSinkOptions options = SinkOptions();
  options.retry_max = 2;
  EventSink sink(options, Client(server.Url("/v1/events")));
  sink.Post({{"n", 1}});
  ASSERT_TRUE(WaitFor([&] { return sink.stats().dropped_failed == 1; }));
  EXPECT_EQ(server.hits(), 3);  // the first attempt and two retries
  EXPECT_EQ(sink.stats().retries, 2u);
  EXPECT_EQ(sink.stats().last_error, "HTTP status 500");
}

// No timed assertion: the backoff is an hour, so a Shutdown that waited it
// out instead of keeping its 200 ms deadline would hang the test until
// ctest's timeout fails it.
TEST(EventSink, ShutdownKeepsItsDeadline) {
  const uint16_t port = LoopbackServer::UnusedPort();
  EventSinkOptions options = SinkOptions();
  options.retry_max = 100;
  options.backoff_initial = std::chrono::hours(1);
  options.backoff_max = std::chrono::hours(1);
  EventSink sink(options, Client(Url(port)));
  sink.Post({{"n", 1}});
  sink.Post({{"n", 2}});
  ASSERT_TRUE(WaitFor([&] { return sink.stats().retries >= 1; }));
  sink.Shutdown(200ms);
  EXPECT_EQ(sink.stats().retries, 1u);  // no second attempt: the deadline cut the backoff
  EXPECT_EQ(sink.stats().dropped_shutdown, 2u);
  sink.Post({{"n", 3}});  // ignored after shutdown
  EXPECT_EQ(sink.stats().dropped_shutdown, 3u);
  EXPECT_EQ(sink.stats().queued, 0u);
}

TEST(EventSink, ShutdownFlushesWhatIsQueued) {
  LoopbackServer server(Ok());
  EventSink sink(SinkOptions(), Client(server.Url("/v1/events")));
  for (int i = 0; i < 200; ++i) sink.Post({{"n", i}});
  sink.Shutdown(3000ms);
  EXPECT_EQ(sink.stats().delivered, 200u);
  EXPECT_EQ(Received(server).size(), 200u);
  EXPECT_LE(server.hits(), 200 / 64 + 2);  // batched
}

TEST(EventSink, ToTheReferenceAuthorizer) {
  testing::TempDir dir;
  const std::string key = dir.Write("node.key", testing::kNodeKey);
  const std::string events = dir.File("events.jsonl");
  testing::AuthzProcess authz({"--node-key", key, "--events", events});
  ASSERT_TRUE(authz.ok()) << authz.error();
  EventSink sink(SinkOptions(), Client(authz.Url("/v1/events")));
  sink.Post({{"type", "denial"}, {"reason", "cloud denied: no"}});
  sink.Post({{"type", "monitor_stop"}, {"container_id", "c1"}});
  sink.Shutdown(2000ms);
  EXPECT_EQ(sink.stats().delivered, 2u) << sink.stats().last_error << authz.log();
  const std::string lines = testing::ReadAll(events);
  EXPECT_THAT(lines, ::testing::HasSubstr("\"type\": \"denial\""));
  EXPECT_THAT(lines, ::testing::HasSubstr("\"container_id\": \"c1\""));
  EXPECT_EQ(authz.Stats().events, 2);
}

TEST(EventSink, SignsEachBatchWithTheCurrentNodeKey) {
  testing::TempDir dir;
  const std::string server_key = dir.Write("server.key", testing::kNodeKey);
  testing::AuthzProcess authz({"--node-key", server_key});
  ASSERT_TRUE(authz.ok()) << authz.error();
  toml::table root = toml::parse(fmt::format(
      "[cloud]\nenabled = true\nurl = \"{0}\"\nevents_url = \"{0}\"\nnode_key_file = \"{1}\"\n"
      "event_retry_max = 0\n",
      authz.Url("/v1/events"), server_key));
  std::vector<std::string> errors;
  auto config = ParseCloudConfig(root, errors);
  ASSERT_TRUE(config) << ::testing::PrintToString(errors);
  // The daemon's snapshot holds the signer; a reload swaps a new one in.
  base::Latest<NodeSigner> signer(std::make_shared<const NodeSigner>("an old key, long enough"));
  auto sink = MakeEventSink(*config, "edge-1", [&] { return signer.Get(); });
  ASSERT_TRUE(sink.ok() && *sink);
  EventSink& s = **sink;
  s.Post({{"n", 1}});
  ASSERT_TRUE(WaitFor([&] { return s.stats().dropped_failed == 1; }));
  EXPECT_EQ(s.stats().last_error, "HTTP status 401");

  signer.Set(std::make_shared<const NodeSigner>(testing::kNodeKey));
  s.Post({{"n", 2}});
  s.Shutdown(2000ms);
  EXPECT_EQ(s.stats().delivered, 1u);
  EXPECT_EQ(authz.Stats().events, 1);
}

TEST(MakeEventSink, NullWithoutEventsUrl) {
  CloudConfig config;
  config.enabled = true;
  auto sink = MakeEventSink(config, "n");
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(sink->get(), nullptr);
}

}  // namespace
}  // namespace crigate::cloud
