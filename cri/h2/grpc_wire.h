// gRPC's rules on the HTTP/2 wire, as the event-loop front end (issue 13)
// enforces them on a caller's stream before anything reaches containerd.
// No nghttp2 and no grpc++ here: header fields and DATA bytes in, verdicts
// and bytes out, so every rule is unit-tested and fuzzed on its own.
//
//   auto head = ParseRequestHead(fields);        // the request's header block
//   FirstMessage first(max_message_bytes);       // a held stream's DATA
//   first.Add(chunk) ... first.Finish()          // until kComplete (or a refusal)
//   Gunzip(first.payload(), max_message_bytes)   // grpc-encoding: gzip
//   TrailersOnly(code, reason)                   // a refusal, as the answer
//
// The rules (HTTP/2 RFC 9113 section 8, gRPC's PROTOCOL-HTTP2.md), refused
// with INVALID_ARGUMENT and a sentence that names the field:
//   - names are visible ASCII, lowercase, with ':' only as a pseudo-header's
//     first character; values have no NUL, CR or LF and no white space at
//     either end (RFC 9113 section 8.2.1);
//   - pseudo-header fields come first, are :method, :scheme, :path and
//     :authority only, each at most once, and the first three are present;
//     :method is POST;
//   - content-type, te, grpc-timeout, grpc-encoding and authorization (the
//     fields the gate reads) each at most once;
//   - no connection-specific fields (connection, keep-alive,
//     proxy-connection, transfer-encoding, upgrade); te, if sent, is
//     "trailers";
//   - content-type is application/grpc, alone or followed by '+' or ';';
//   - grpc-timeout, if sent, is 1 to 8 digits and one of H M S m u n.
// :authority is taken as sent: crictl sends the socket's path there.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/base/status.h"

namespace crigate::cri::h2 {

// One header field, as HTTP/2 carries it.
struct Field {
  std::string name;
  std::string value;
  bool operator==(const Field& other) const { return name == other.name && value == other.value; }
};

// What the front end needs from a request's header block. The block itself
// is forwarded as it came (less what stops at the gate: authorization).
struct RequestHead {
  std::string path;                                 // exactly as sent: method_table.h judges it
  std::string authority;                            // empty when not sent
  std::optional<std::chrono::nanoseconds> timeout;  // grpc-timeout
  std::string encoding;                             // grpc-encoding; empty means identity
  std::string bearer_token;  // "authorization: Bearer <token>"; for the gate only
};

base::Result<RequestHead> ParseRequestHead(const std::vector<Field>& fields);

// grpc-timeout's value ("100m", "5S"), or INVALID_ARGUMENT.
base::Result<std::chrono::nanoseconds> ParseGrpcTimeout(std::string_view value);

// A grpc-timeout value for t (at least 1 ns): in the finest unit that fits
// gRPC's 8 digits, rounded down, so that a relayed deadline never grows.
std::string FormatGrpcTimeout(std::chrono::nanoseconds t);

// The first gRPC message of a request stream, from DATA as it arrives: a
// 5-byte prefix (compressed flag, big-endian length) and the payload. A
// length over max_bytes is refused as soon as the prefix is in, before the
// payload is buffered. Bytes after the first message are counted, not kept:
// every gated CRI method is unary, so a second message is the caller's
// error (the front end refuses it).
class FirstMessage {
 public:
  enum class State {
    kNeedMore,   // keep reading
    kComplete,   // payload() is the whole first message
    kTooLarge,   // its prefix announced more than max_bytes
    kMalformed,  // a compressed flag other than 0 or 1, or the stream ended inside a message
  };

  explicit FirstMessage(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the next DATA bytes of the stream.
  State Add(std::string_view data);
  // The stream ended (END_STREAM): kComplete only when a whole first
  // message arrived; an empty stream or a cut message is kMalformed.
  State Finish();

  State state() const { return state_; }
  bool compressed() const { return compressed_; }
  // The length the prefix announced (valid once the prefix is in).
  uint32_t announced() const { return length_; }
  const std::string& payload() const { return payload_; }
  // Bytes that came after the first message (a second message).
  size_t extra_bytes() const { return extra_; }
  // Why the state is kTooLarge or kMalformed, for the caller's answer.
  std::string Problem() const;

 private:
  const size_t max_bytes_;
  State state_ = State::kNeedMore;
  unsigned char prefix_[5] = {};
  size_t prefix_have_ = 0;
  bool compressed_ = false;
  bool have_length_ = false;  // the prefix is in and read
  uint32_t length_ = 0;
  std::string payload_;
  size_t extra_ = 0;
  bool ended_ = false;
  bool data_after_end_ = false;
};

// The message the gate judges, from a complete first message and the
// request's grpc-encoding: the payload itself when it is not compressed,
// gunzipped when it is and the encoding is gzip. A compressed message with
// no encoding is INVALID_ARGUMENT (the caller broke gRPC's rules); one in
// another encoding is UNIMPLEMENTED: never forwarded uninspected.
base::Result<std::string> MessageToJudge(const FirstMessage& first, const RequestHead& head,
                                         size_t max_bytes);

// A message as gRPC frames it: the 5-byte prefix, then payload.
std::string FrameMessage(std::string_view payload, bool compressed = false);

// grpc-encoding: gzip, decompressed (zlib) to at most max_bytes.
// RESOURCE_EXHAUSTED when it inflates beyond that, INVALID_ARGUMENT when it
// is not gzip data or is cut short.
base::Result<std::string> Gunzip(std::string_view compressed, size_t max_bytes);

// gRPC's percent-encoding of grpc-message: bytes outside printable ASCII,
// and '%', as %XX.
std::string PercentEncode(std::string_view message);

// grpc-message's percent-encoding undone; a '%' not followed by two hex
// digits is kept as it is (gRPC's rule for a malformed encoding).
std::string PercentDecode(std::string_view message);

// The status an answer's trailers (or a trailers-only header block) carry:
// grpc-status and grpc-message. UNKNOWN when grpc-status is missing or not a
// number (gRPC's rule for a response without one).
base::Status AnswerOf(const std::vector<Field>& fields);

// The last whole gRPC message in a response's DATA bytes, decompressed when
// its flag says so and encoding is gzip; empty when there is none, when the
// bytes end inside a message, or when it cannot be decompressed to at most
// max_bytes.
std::optional<std::string> LastMessage(std::string_view data, std::string_view encoding,
                                       size_t max_bytes);

// The fields of a trailers-only answer: HTTP 200, application/grpc, and the
// status. What a refused call gets instead of containerd's answer.
std::vector<Field> TrailersOnly(base::Code code, std::string_view message);

}  // namespace crigate::cri::h2
