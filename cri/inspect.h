// Reads a held request for the pipeline without changing it.
//
// The request is parsed with the CRI subset from its bytes (one gRPC
// message's payload, which stays intact); the original bytes are what is
// forwarded, unless it carries a token annotation (StripTokenAnnotations).
// runtime.v1alpha2 requests parse with the same subset: their field numbers
// are the same.
//
// Strict: a field the subset declares that arrives with another wire type
// (e.g. `privileged` sent length-delimited) is not an unknown field but a
// malformed request: the parser would keep it aside and the gate would read
// the default ("not privileged") while another decoder might not. Repeated
// singular fields merge and the last one wins, as in containerd's decoder.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "cri_subset.pb.h"
#include "policy/base/status.h"
#include "policy/gate.h"

namespace crigate::cri {

// Fills the request-derived fields of *out (image, pod, container, ids,
// annotations) for the given action. INVALID_ARGUMENT with a reason when the
// bytes are not a valid message of that action's request type.
// No gRPC here: the front end hands over the message's payload, and turns
// the status into its own answer.
base::Status InspectRequest(std::string_view action, std::string_view request,
                            policy::GateRequest* out);

// Parses any subset message from its serialized bytes.
bool ParseMessage(std::string_view bytes, google::protobuf::Message* message);

// The dotted path of the first field of message (or a message inside it)
// whose number is declared but arrived with another wire type, e.g.
// "config.linux.security_context.privileged"; empty when there is none.
std::string MisTypedField(const google::protobuf::Message& message);

// For an allowed request that carries the annotation crigate.io/token
// (container config, image spec or pod sandbox config): re-encodes it
// without that annotation, keeping every other field, unknown ones
// included, so the token never reaches containerd (which would hand it to
// any reader of PodSandboxStatus or ContainerStatus). *stripped is false, and
// *out untouched, when there was none: the original bytes then go on.
base::Status StripTokenAnnotations(std::string_view action, std::string_view in, std::string* out,
                                   bool* stripped);

// Whether InspectRequest found the annotation crigate.io/token in any map
// StripTokenAnnotations removes it from: when false there is nothing to strip,
// and the request need not be parsed again.
bool CarriesTokenAnnotation(const policy::GateRequest& request);

// The gate's view of a CRI pod sandbox config or container config: every
// field the stages judge, security fields included.
policy::PodInfo PodFromConfig(const runtime::v1::PodSandboxConfig& config);
policy::ContainerInfo ContainerFromConfig(const runtime::v1::ContainerConfig& config);

// Reads a config containerd recorded (the "config" of a verbose status's
// info, marshalled by Go's encoding/json: proto field names, enums as
// numbers) into the subset message. UNAVAILABLE when it does not parse.
base::Status MessageFromRecordedJson(const std::string& json, google::protobuf::Message* message);

// Serialises message into *out; INTERNAL when it cannot.
base::Status EncodeMessage(const google::protobuf::Message& message, std::string* out);

}  // namespace crigate::cri
