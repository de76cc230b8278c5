#include "cri/call_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace crigate::cri {
namespace {

// The value of one series line of the default registry's exposition; 0
// when it is not there (yet). Other tests of this binary count calls too,
// so the tests compare before and after.
double SeriesNow(const std::string& series) {
  const std::string text = base::DefaultRegistry().Exposition();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(CallMetrics, CountsByMethodClassAndOutcomeAndTimesPassthrough) {
  CallMetrics& metrics = CallMetrics::Instance();
  const std::string version =
      "crigate_calls_total{method=\"Version\",class=\"read-only\",outcome=\"OK\"}";
  const double calls = SeriesNow(version);
  const double timed = SeriesNow("crigate_passthrough_duration_seconds_count");
  metrics.Record("Version", CallMetrics::Class::kReadOnly, base::Code::OK, true,
                 std::chrono::microseconds(300));
  metrics.Record("Version", CallMetrics::Class::kReadOnly, base::Code::OK, true,
                 std::chrono::microseconds(300));
  metrics.Record("RemoveImage", CallMetrics::Class::kGated, base::Code::PERMISSION_DENIED, false,
                 std::chrono::microseconds(300));
  EXPECT_EQ(SeriesNow(version), calls + 2);
  EXPECT_EQ(SeriesNow("crigate_passthrough_duration_seconds_count"), timed + 2)
      << "only passthrough calls are timed";
  EXPECT_GE(SeriesNow("crigate_calls_total{method=\"RemoveImage\",class=\"gated\",outcome="
                      "\"PERMISSION_DENIED\"}"),
            1);
}

// A caller names any method and path it likes: none of it becomes a label.
TEST(CallMetrics, UnknownMethodsAndPathsShareOneSeriesEach) {
  CallMetrics& metrics = CallMetrics::Instance();
  const std::string other =
      "crigate_calls_total{method=\"other\",class=\"mutating\",outcome=\"UNIMPLEMENTED\"}";
  const std::string unserved =
      "crigate_calls_total{method=\"unserved\",class=\"unserved\",outcome=\"UNIMPLEMENTED\"}";
  const double others = SeriesNow(other), unserveds = SeriesNow(unserved);
  metrics.Record("MadeUp1", CallMetrics::Class::kMutating, base::Code::UNIMPLEMENTED, false, {});
  metrics.Record("MadeUp2", CallMetrics::Class::kMutating, base::Code::UNIMPLEMENTED, false, {});
  metrics.Record("Version", CallMetrics::Class::kUnserved, base::Code::UNIMPLEMENTED, false, {});
  EXPECT_EQ(SeriesNow(other), others + 2);
  EXPECT_EQ(SeriesNow(unserved), unserveds + 1);
  const std::string text = base::DefaultRegistry().Exposition();
  EXPECT_EQ(text.find("MadeUp"), std::string::npos);
}

TEST(CallMetrics, HealthChecksHaveASeriesOfTheirOwn) {
  const std::string check = "crigate_calls_total{method=\"Check\",class=\"health\",outcome=\"OK\"}";
  const double before = SeriesNow(check);
  CallMetrics::Instance().Record("", CallMetrics::Class::kHealth, base::Code::OK, false, {});
  EXPECT_EQ(SeriesNow(check), before + 1);
}

TEST(CallMetrics, AStatusOutsideGrpcsCodesIsUnknown) {
  const std::string unknown =
      "crigate_calls_total{method=\"Status\",class=\"read-only\",outcome=\"UNKNOWN\"}";
  const double before = SeriesNow(unknown);
  CallMetrics::Instance().Record("Status", CallMetrics::Class::kReadOnly,
                                 static_cast<base::Code>(99), false, {});
  EXPECT_EQ(SeriesNow(unknown), before + 1);
}

}  // namespace
}  // namespace crigate::cri
