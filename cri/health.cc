#include "cri/health.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <optional>

#include "cri/method_table.h"
#include "policy/base/text.h"

namespace crigate::cri {
namespace {

using google::protobuf::internal::WireFormatLite;

// Both messages have one field, number 1: HealthCheckRequest.service
// (string) and HealthCheckResponse.status (enum). Other fields are skipped,
// as proto3 does; the last occurrence of field 1 wins, as in grpc-go.
constexpr int kField = 1;

// The string field 1 of `bytes` ("" when absent), or nullopt when `bytes`
// is not a well-formed message or field 1 is not length-delimited.
std::optional<std::string> StringField(std::string_view bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::string value;
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      // The end of the input, or a tag that is not one (0, or cut short).
      if (!in.ConsumedEntireMessage()) return std::nullopt;
      return value;
    }
    if (WireFormatLite::GetTagFieldNumber(tag) == kField) {
      if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
          !WireFormatLite::ReadString(&in, &value)) {
        return std::nullopt;
      }
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
}

// The CRI services crigate serves, by their health-protocol names.
bool IsServedService(std::string_view service) {
  if (service.empty()) return true;
  const std::string path = "/" + std::string(service) + "/Version";
  return ParseMethodPath(path).served;
}

std::string EncodeStatus(ServingStatus status) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  WireFormatLite::WriteEnum(kField, static_cast<int>(status), &coded);
  coded.Trim();
  return out;
}

}  // namespace

base::Result<std::string> HealthService::Check(std::string_view request) const {
  std::optional<std::string> service = StringField(request);
  if (!service) {
    return base::Status::InvalidArgument(
        "crigate: the request is not a grpc.health.v1.HealthCheckRequest");
  }
  if (!IsServedService(*service)) {
    return base::Status(base::Code::NOT_FOUND,
                        "crigate: no health is kept for service \"" +
                            base::Printable(*service, 200) +
                            "\": ask for \"\" or a CRI service crigate serves");
  }
  const base::Status serving = probe_ ? probe_() : base::Status::Unavailable("no probe");
  return EncodeStatus(serving.ok() ? ServingStatus::kServing : ServingStatus::kNotServing);
}

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string out;
  if (service.empty()) return out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  WireFormatLite::WriteString(kField, std::string(service), &coded);
  coded.Trim();
  return out;
}

base::Result<ServingStatus> DecodeHealthCheckResponse(std::string_view response) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(response.data()),
                                            static_cast<int>(response.size()));
  int status = 0;
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.ConsumedEntireMessage()) break;
      return base::Status::InvalidArgument("not a grpc.health.v1.HealthCheckResponse");
    }
    const bool ok =
        WireFormatLite::GetTagFieldNumber(tag) == kField &&
                WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT
            ? WireFormatLite::ReadPrimitive<int, WireFormatLite::TYPE_ENUM>(&in, &status)
            : WireFormatLite::SkipField(&in, tag);
    if (!ok) return base::Status::InvalidArgument("not a grpc.health.v1.HealthCheckResponse");
  }
  switch (status) {
    case 1:
      return ServingStatus::kServing;
    case 2:
      return ServingStatus::kNotServing;
    default:
      return ServingStatus::kUnknown;
  }
}

}  // namespace crigate::cri
