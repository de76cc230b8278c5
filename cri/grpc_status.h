// The gRPC edge of crigate's one failure type (policy/base/status.h): the
// codes are gRPC's canonical codes with the same numbers, so a Status
// crosses to gRPC and back unchanged.
#pragma once

#include <grpcpp/support/status.h>

#include "policy/base/status.h"

namespace crigate::cri {

inline grpc::StatusCode ToGrpc(base::Code code) { return static_cast<grpc::StatusCode>(code); }

inline grpc::Status ToGrpc(const base::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpc(status.code()), status.message());
}

inline base::Code FromGrpc(grpc::StatusCode code) { return static_cast<base::Code>(code); }

inline base::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return base::Status::OK();
  return base::Status(FromGrpc(status.error_code()), status.error_message());
}

}  // namespace crigate::cri
