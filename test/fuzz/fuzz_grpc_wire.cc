// gRPC on the HTTP/2 wire (cri/h2/grpc_wire.h), as a caller of the event-loop
// front end controls it: a request's header block and its DATA bytes, cut
// into chunks of any size, gzip-compressed or not.
//
// Input: header lines "name<TAB>value" up to a blank line, one byte that sets
// the chunk size, then the stream's DATA. Checked on every input:
//   - an accepted head has exactly one :path, and it is the one returned;
//     its :method is POST, its pseudo-headers come first, and no name or
//     value has a character RFC 9113 forbids;
//   - a complete first message is exactly what its prefix announced, within
//     the limit, and framing it again gives back the bytes it came from;
//   - gzip never inflates past the limit;
//   - a percent-encoded message is printable ASCII with no bare '%'.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cri/h2/grpc_wire.h"

namespace h2 = crigate::cri::h2;

namespace {

constexpr size_t kMaxMessage = 1 << 16;

std::vector<h2::Field> ParseFields(std::string_view block) {
  std::vector<h2::Field> fields;
  while (!block.empty()) {
    const size_t eol = block.find('\n');
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 1);
    const size_t tab = line.find('\t');
    h2::Field field;
    field.name = std::string(line.substr(0, tab));
    if (tab != std::string_view::npos) field.value = std::string(line.substr(tab + 1));
    fields.push_back(std::move(field));
  }
  return fields;
}

void CheckHead(const std::vector<h2::Field>& fields) {
  auto head = h2::ParseRequestHead(fields);
  if (!head.ok()) {
    if (head.error().empty()) std::abort();  // every refusal says why
    return;
  }
  int paths = 0;
  bool regular = false;
  for (const auto& field : fields) {
    if (field.name == ":path") {
      ++paths;
      if (field.value != head->path) std::abort();
    }
    if (field.name == ":method" && field.value != "POST") std::abort();
    if (field.name.empty() || (field.name[0] == ':' && regular)) std::abort();
    regular = regular || field.name[0] != ':';
    for (char c : field.name) {
      if (c <= ' ' || c >= 0x7f || (c >= 'A' && c <= 'Z')) std::abort();
    }
    for (char c : field.value) {
      if (c == '\0' || c == '\r' || c == '\n') std::abort();
    }
  }
  if (paths != 1) std::abort();
}

void CheckMessage(std::string_view data, const std::vector<h2::Field>& fields) {
  if (data.empty()) return;
  const size_t chunk = 1 + static_cast<unsigned char>(data[0]) % 97;
  data.remove_prefix(1);
  h2::FirstMessage first(kMaxMessage);
  for (size_t at = 0; at < data.size(); at += chunk) first.Add(data.substr(at, chunk));
  first.Finish();
  if (!first.Problem().empty() != (first.state() == h2::FirstMessage::State::kTooLarge ||
                                   first.state() == h2::FirstMessage::State::kMalformed)) {
    std::abort();  // a refusal always has a reason, and only a refusal
  }
  if (first.state() != h2::FirstMessage::State::kComplete) return;
  if (first.payload().size() != first.announced() || first.announced() > kMaxMessage) std::abort();
  const std::string framed = h2::FrameMessage(first.payload(), first.compressed());
  if (data.substr(0, framed.size()) != framed) std::abort();
  if (data.size() - framed.size() != first.extra_bytes()) std::abort();
  auto head = h2::ParseRequestHead(fields);
  if (!head.ok()) return;
  auto judged = h2::MessageToJudge(first, *head, kMaxMessage);
  if (judged.ok() && judged->size() > kMaxMessage) std::abort();
  if (judged.ok() && !first.compressed() && *judged != first.payload()) std::abort();
  if (!judged.ok() && judged.error().empty()) std::abort();
}

void CheckPercentEncoding(std::string_view text) {
  const std::string encoded = h2::PercentEncode(text);
  for (size_t i = 0; i < encoded.size(); ++i) {
    const auto u = static_cast<unsigned char>(encoded[i]);
    if (u < 0x20 || u > 0x7e) std::abort();
    if (encoded[i] == '%' && (i + 2 >= encoded.size() || !std::isxdigit(encoded[i + 1]) ||
                              !std::isxdigit(encoded[i + 2]))) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const size_t blank = input.find("\n\n");
  const std::string_view block = input.substr(0, blank);
  const std::string_view data =
      blank == std::string_view::npos ? std::string_view() : input.substr(blank + 2);
  const std::vector<h2::Field> fields = ParseFields(block);
  CheckHead(fields);
  if (!fields.empty()) (void)h2::ParseGrpcTimeout(fields.front().value);
  CheckMessage(data, fields);
  CheckPercentEncoding(block);
  return 0;
}
