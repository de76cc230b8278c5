// Reads a gated request for the pipeline without changing it.
//
// The request is parsed with the CRI subset straight from the received
// ByteBuffer (which stays intact); the original bytes are what is forwarded.
// runtime.v1alpha2 requests parse with the same subset: their field numbers
// are the same.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <google/protobuf/message_lite.h>
#include <grpcpp/support/status.h>

#include <string_view>

#include "policy/gate.h"

namespace crigate::cri {

// Fills the request-derived fields of *out (image, pod, container, ids,
// annotations) for the given action. INVALID_ARGUMENT with a reason when the
// bytes are not a valid message of that action's request type.
grpc::Status InspectRequest(std::string_view action, const grpc::ByteBuffer& request,
                            policy::GateRequest* out);

// Parses any subset message from a ByteBuffer without consuming it.
bool ParseMessage(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message);

}  // namespace crigate::cri
