#include "policy/base/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace crigate::base {
namespace {

TEST(Metrics, CounterFamilyWritesHelpTypeAndOneLinePerChild) {
  Registry registry;
  CounterFamily& calls =
      registry.Counters("crigate_calls_total", "Calls answered.", {"method", "outcome"});
  calls.With({"Version", "OK"}).Inc();
  calls.With({"Version", "OK"}).Inc(2);
  calls.With({"PullImage", "PERMISSION_DENIED"}).Inc();
  EXPECT_EQ(registry.Exposition(),
            "# HELP crigate_calls_total Calls answered.\n"
            "# TYPE crigate_calls_total counter\n"
            "crigate_calls_total{method=\"PullImage\",outcome=\"PERMISSION_DENIED\"} 1\n"
            "crigate_calls_total{method=\"Version\",outcome=\"OK\"} 3\n");
}

TEST(Metrics, WithReturnsTheSameChildForTheSameValues) {
  Registry registry;
  CounterFamily& family = registry.Counters("x_total", "x", {"a"});
  EXPECT_EQ(&family.With({"1"}), &family.With({"1"}));
  EXPECT_NE(&family.With({"1"}), &family.With({"2"}));
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.Counters("odd_total", "a \\ back\nslash \"quoted\"", {"v"})
      .With({"say \"hi\"\\\n"})
      .Inc();
  EXPECT_EQ(registry.Exposition(),
            "# HELP odd_total a \\\\ back\\nslash \"quoted\"\n"
            "# TYPE odd_total counter\n"
            "odd_total{v=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
}

TEST(Metrics, UnlabelledGaugeAndCallbackGauge) {
  Registry registry;
  Gauge& depth = registry.Gauges("queue_depth", "Waiting.").With({});
  depth.Set(7);
  depth.Add(-2);
  int size = 41;
  registry.AddGaugeCallback("store_entries", "Read at scrape time.", [&size] { return size + 1; });
  EXPECT_EQ(registry.Exposition(),
            "# HELP queue_depth Waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 5\n"
            "# HELP store_entries Read at scrape time.\n"
            "# TYPE store_entries gauge\n"
            "store_entries 42\n");
  size = 99;
  EXPECT_NE(registry.Exposition().find("store_entries 100\n"), std::string::npos);
}

TEST(Metrics, CounterCallbackIsTypedCounter) {
  Registry registry;
  registry.AddCounterCallback("dropped_total", "Kept by a part.", [] { return 12; });
  EXPECT_EQ(registry.Exposition(),
            "# HELP dropped_total Kept by a part.\n"
            "# TYPE dropped_total counter\n"
            "dropped_total 12\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  HistogramFamily& family =
      registry.Histograms("stage_duration_seconds", "Stage time.", {"stage"}, {0.001, 0.25});
  Histogram& trust = family.With({"trust"});
  trust.Observe(0.0005);
  trust.Observe(0.001);  // on a bound: counted in it (le is "less or equal")
  trust.Observe(0.1);
  trust.Observe(3);
  EXPECT_EQ(registry.Exposition(),
            "# HELP stage_duration_seconds Stage time.\n"
            "# TYPE stage_duration_seconds histogram\n"
            "stage_duration_seconds_bucket{stage=\"trust\",le=\"0.001\"} 2\n"
            "stage_duration_seconds_bucket{stage=\"trust\",le=\"0.25\"} 3\n"
            "stage_duration_seconds_bucket{stage=\"trust\",le=\"+Inf\"} 4\n"
            "stage_duration_seconds_sum{stage=\"trust\"} 3.1015\n"
            "stage_duration_seconds_count{stage=\"trust\"} 4\n");
}

TEST(Metrics, ObserveSecondsTakesADuration) {
  Histogram h({0.001});
  h.ObserveSeconds(std::chrono::microseconds(250));
  EXPECT_EQ(h.Cumulative(), (std::vector<uint64_t>{1, 1}));
  EXPECT_DOUBLE_EQ(h.Sum(), 0.00025);
}

TEST(Metrics, RegisteringANameAgainReturnsTheSameFamily) {
  Registry registry;
  CounterFamily& first = registry.Counters("again_total", "x", {"a"});
  CounterFamily& second = registry.Counters("again_total", "x", {"a"});
  EXPECT_EQ(&first, &second);
}

TEST(MetricsDeathTest, ANameRegisteredAsAnotherTypeAborts) {
  Registry registry;
  registry.Counters("clash", "x");
  EXPECT_DEATH(registry.Gauges("clash", "x"), "");
}

TEST(MetricsDeathTest, AnInvalidNameAborts) {
  Registry registry;
  EXPECT_DEATH(registry.Counters("bad-name_total", "x"), "");
  EXPECT_DEATH(registry.Counters("ok_total", "x", {"le"}), "");
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  Counter& c = registry.Counters("hits_total", "x").With({});
  Histogram& h = registry.Histograms("t_seconds", "x", {}, {1}).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000u);
  EXPECT_EQ(h.Count(), 40000u);
  EXPECT_DOUBLE_EQ(h.Sum(), 20000);
}

TEST(Metrics, FamiliesAreWrittenInRegistrationOrder) {
  Registry registry;
  registry.Gauges("b_gauge", "second");
  registry.Counters("a_total", "first");
  const std::string text = registry.Exposition();
  EXPECT_LT(text.find("b_gauge"), text.find("a_total"));
}

}  // namespace
}  // namespace crigate::base
