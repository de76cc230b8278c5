#include "cri/health.h"

#include <gtest/gtest.h>

namespace crigate::cri {
namespace {

using namespace std::string_literals;

HealthService Serving() {
  return HealthService([] { return base::Status::OK(); });
}

ServingStatus StatusOf(const base::Result<std::string>& answer) {
  EXPECT_TRUE(answer.ok()) << answer.error();
  auto decoded = DecodeHealthCheckResponse(answer.ok() ? *answer : "");
  EXPECT_TRUE(decoded.ok());
  return decoded.ok() ? *decoded : ServingStatus::kUnknown;
}

TEST(HealthService, TheWholeServerAndEachCriServiceFollowTheProbe) {
  for (const char* service : {"", "runtime.v1.RuntimeService", "runtime.v1.ImageService",
                              "runtime.v1alpha2.RuntimeService", "runtime.v1alpha2.ImageService"}) {
    EXPECT_EQ(StatusOf(Serving().Check(EncodeHealthCheckRequest(service))), ServingStatus::kServing)
        << service;
    HealthService down([] { return base::Status::Unavailable("containerd Version failed"); });
    EXPECT_EQ(StatusOf(down.Check(EncodeHealthCheckRequest(service))), ServingStatus::kNotServing)
        << service;
  }
}

TEST(HealthService, AServiceCrigateDoesNotServeIsNotFound) {
  for (const char* service : {"containerd.services.tasks.v1.Tasks", "grpc.health.v1.Health",
                              "runtime.v1.RuntimeService/Version", "Runtime.v1.RuntimeService"}) {
    auto answer = Serving().Check(EncodeHealthCheckRequest(service));
    EXPECT_EQ(answer.code(), base::Code::NOT_FOUND) << service;
  }
}

TEST(HealthService, TheProbeIsNotAskedForAnUnknownServiceOrAMalformedRequest) {
  int asked = 0;
  HealthService health([&] {
    ++asked;
    return base::Status::OK();
  });
  (void)health.Check(EncodeHealthCheckRequest("nope.Service"));
  (void)health.Check("\x0a\x05"s + "ab");
  EXPECT_EQ(asked, 0);
  (void)health.Check("");
  EXPECT_EQ(asked, 1);
}

TEST(HealthService, UnknownFieldsAreSkippedAndTheLastServiceWins) {
  // field 2 (varint 7), field 1 = "nope", field 1 = "" : the last wins.
  const std::string request = "\x10\x07"s + "\x0a\x04nope"s + "\x0a\x00"s;
  EXPECT_EQ(StatusOf(Serving().Check(request)), ServingStatus::kServing);
  const std::string last_unknown = "\x0a\x00"s + "\x0a\x04nope"s;
  EXPECT_EQ(Serving().Check(last_unknown).code(), base::Code::NOT_FOUND);
}

TEST(HealthService, ARequestThatIsNotAHealthCheckRequestIsInvalid) {
  for (const std::string& bad : {
           "\x0a\x05"s + "ab",  // the string runs past the end
           "\x08\x01"s,         // field 1 as a varint
           "\x00"s,             // field number 0
           "\x0b"s,             // a group
           "\x0a"s,             // a tag with no length
       }) {
    EXPECT_EQ(Serving().Check(bad).code(), base::Code::INVALID_ARGUMENT);
  }
}

TEST(HealthService, ResponsesAreDecodedAsTheHealthProtocolDefinesThem) {
  EXPECT_EQ(*DecodeHealthCheckResponse("\x08\x01"s), ServingStatus::kServing);
  EXPECT_EQ(*DecodeHealthCheckResponse("\x08\x02"s), ServingStatus::kNotServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(""), ServingStatus::kUnknown);
  EXPECT_EQ(DecodeHealthCheckResponse("\x08"s).code(), base::Code::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace crigate::cri
