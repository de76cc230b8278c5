#include "cri/h2/grpc_wire.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <set>

#include "policy/base/text.h"

namespace crigate::cri::h2 {
namespace {

base::Status Invalid(std::string message) {
  return base::Status::InvalidArgument(std::move(message));
}

// A field as it can be quoted in a message.
std::string Quote(std::string_view value) { return base::Printable(value, 100); }

// RFC 9113 section 8.2.1: a name is visible ASCII with no uppercase letter
// and no ':' (but the pseudo-header's first); a value has no NUL, CR or LF
// and no leading or trailing space or tab.
std::string FieldProblem(const Field& field) {
  const std::string& name = field.name;
  if (name.empty()) return "a header field has no name";
  for (size_t i = 0; i < name.size(); ++i) {
    const auto u = static_cast<unsigned char>(name[i]);
    if (u >= 'A' && u <= 'Z') {
      return fmt::format("header field \"{}\" is not lowercase", Quote(name));
    }
    if (u <= 0x20 || u >= 0x7f || (name[i] == ':' && i > 0)) {
      return fmt::format("header field name \"{}\" has a character HTTP/2 forbids", Quote(name));
    }
  }
  const std::string& value = field.value;
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') {
      return fmt::format("header field {} has a NUL, CR or LF in its value", Quote(name));
    }
  }
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                         value.back() == '\t')) {
    return fmt::format("header field {} has a value that starts or ends with white space",
                       Quote(name));
  }
  return {};
}

bool IsConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

bool IsGrpcContentType(std::string_view value) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (value.substr(0, kGrpc.size()) != kGrpc) return false;
  return value.size() == kGrpc.size() || value[kGrpc.size()] == '+' || value[kGrpc.size()] == ';';
}

}  // namespace

base::Result<std::chrono::nanoseconds> ParseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) {
    return Invalid(
        fmt::format("grpc-timeout \"{}\" is not 1 to 8 digits and a unit", Quote(value)));
  }
  int64_t amount = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') {
      return Invalid(
          fmt::format("grpc-timeout \"{}\" is not 1 to 8 digits and a unit", Quote(value)));
    }
    amount = amount * 10 + (c - '0');
  }
  // 99'999'999 H is about 3.6e20 ns, beyond int64: large values saturate at
  // the longest deadline nanoseconds can hold.
  constexpr int64_t kMax = std::chrono::nanoseconds::max().count();
  int64_t unit_ns = 0;
  switch (value.back()) {
    case 'H':
      unit_ns = 3'600'000'000'000;
      break;
    case 'M':
      unit_ns = 60'000'000'000;
      break;
    case 'S':
      unit_ns = 1'000'000'000;
      break;
    case 'm':
      unit_ns = 1'000'000;
      break;
    case 'u':
      unit_ns = 1'000;
      break;
    case 'n':
      unit_ns = 1;
      break;
    default:
      return Invalid(
          fmt::format("grpc-timeout \"{}\" has no unit (H, M, S, m, u or n)", Quote(value)));
  }
  if (amount > kMax / unit_ns) return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds(amount * unit_ns);
}

base::Result<RequestHead> ParseRequestHead(const std::vector<Field>& fields) {
  RequestHead head;
  bool seen_regular = false, seen_method = false, seen_scheme = false, seen_path = false,
       seen_authority = false;
  // The regular fields the gate reads: each at most once, so that the gate
  // and containerd cannot each take a different one.
  std::set<std::string> read_once;
  for (const Field& field : fields) {
    const std::string& name = field.name;
    if (std::string problem = FieldProblem(field); !problem.empty()) {
      return Invalid(std::move(problem));
    }
    if (name[0] == ':') {
      if (seen_regular) {
        return Invalid(fmt::format("pseudo-header {} comes after a regular field", Quote(name)));
      }
      bool* seen = nullptr;
      if (name == ":method") {
        seen = &seen_method;
      } else if (name == ":scheme") {
        seen = &seen_scheme;
      } else if (name == ":path") {
        seen = &seen_path;
      } else if (name == ":authority") {
        seen = &seen_authority;
      } else {
        return Invalid(fmt::format("pseudo-header {} is not one a request has", Quote(name)));
      }
      if (*seen) return Invalid(fmt::format("pseudo-header {} is sent twice", name));
      *seen = true;
      if (name == ":method" && field.value != "POST") {
        return Invalid(fmt::format(":method is \"{}\"; gRPC calls are POST", Quote(field.value)));
      }
      if (name == ":path") head.path = field.value;
      if (name == ":authority") head.authority = field.value;
      continue;
    }
    seen_regular = true;
    if ((name == "content-type" || name == "te" || name == "grpc-timeout" ||
         name == "grpc-encoding" || name == "authorization") &&
        !read_once.insert(name).second) {
      return Invalid(fmt::format("{} is sent twice", name));
    }
    if (IsConnectionSpecific(name)) {
      return Invalid(fmt::format("connection-specific field {} is not allowed in HTTP/2", name));
    }
    if (name == "te" && field.value != "trailers") {
      return Invalid(fmt::format("te is \"{}\"; only \"trailers\" is allowed", Quote(field.value)));
    }
    if (name == "content-type") {
      if (!IsGrpcContentType(field.value)) {
        return Invalid(
            fmt::format("content-type is \"{}\", not application/grpc", Quote(field.value)));
      }
    } else if (name == "grpc-timeout") {
      auto timeout = ParseGrpcTimeout(field.value);
      if (!timeout.ok()) return timeout.status();
      head.timeout = *timeout;
    } else if (name == "grpc-encoding") {
      head.encoding = field.value == "identity" ? std::string() : field.value;
    } else if (name == "authorization") {
      constexpr std::string_view kBearer = "Bearer ";
      if (std::string_view(field.value).substr(0, kBearer.size()) == kBearer) {
        head.bearer_token = field.value.substr(kBearer.size());
      }
    }
  }
  if (!seen_method) return Invalid("the request has no :method");
  if (!seen_scheme) return Invalid("the request has no :scheme");
  if (!seen_path) return Invalid("the request has no :path");
  if (read_once.count("content-type") == 0) return Invalid("the request has no content-type");
  return head;
}

FirstMessage::State FirstMessage::Add(std::string_view data) {
  if (state_ == State::kTooLarge || state_ == State::kMalformed) return state_;
  if (ended_) {
    state_ = State::kMalformed;
    data_after_end_ = true;
    return state_;
  }
  if (state_ == State::kComplete) {
    extra_ += data.size();
    return state_;
  }
  while (!data.empty() && prefix_have_ < sizeof(prefix_)) {
    prefix_[prefix_have_++] = static_cast<unsigned char>(data.front());
    data.remove_prefix(1);
  }
  if (prefix_have_ < sizeof(prefix_)) return state_;
  if (!have_length_) {
    have_length_ = true;
    if (prefix_[0] > 1) {
      state_ = State::kMalformed;
      return state_;
    }
    compressed_ = prefix_[0] == 1;
    length_ = (uint32_t{prefix_[1]} << 24) | (uint32_t{prefix_[2]} << 16) |
              (uint32_t{prefix_[3]} << 8) | uint32_t{prefix_[4]};
    if (length_ > max_bytes_) {
      state_ = State::kTooLarge;
      return state_;
    }
    // Grown as the bytes come, never reserved up front from the prefix: a
    // 5-byte DATA frame must not make the gate set aside max_bytes per stream.
    payload_.reserve(std::min<size_t>(length_, size_t{64} * 1024));
  }
  const size_t want = length_ - payload_.size();
  payload_.append(data.substr(0, want));
  if (payload_.size() == length_) {
    state_ = State::kComplete;
    extra_ += data.size() > want ? data.size() - want : 0;
  }
  return state_;
}

FirstMessage::State FirstMessage::Finish() {
  ended_ = true;
  if (state_ == State::kNeedMore) state_ = State::kMalformed;
  return state_;
}

std::string FirstMessage::Problem() const {
  switch (state_) {
    case State::kTooLarge:
      return fmt::format("the request message is {} bytes, more than the {} allowed", length_,
                         max_bytes_);
    case State::kMalformed:
      if (data_after_end_) return "the request stream sent data after its end";
      if (prefix_have_ == sizeof(prefix_) && prefix_[0] > 1) {
        return fmt::format("the request message's compressed flag is {}, not 0 or 1", prefix_[0]);
      }
      if (prefix_have_ == 0) return "the request stream ended with no message";
      return fmt::format("the request stream ended inside its message ({} of {} bytes)",
                         prefix_have_ < sizeof(prefix_) ? prefix_have_ : payload_.size(),
                         prefix_have_ < sizeof(prefix_) ? sizeof(prefix_) : length_);
    case State::kNeedMore:
    case State::kComplete:
      break;
  }
  return std::string();
}

base::Result<std::string> MessageToJudge(const FirstMessage& first, const RequestHead& head,
                                         size_t max_bytes) {
  if (first.state() != FirstMessage::State::kComplete) {
    return base::Status::Internal("the request message is not complete");
  }
  if (!first.compressed()) return first.payload();
  if (head.encoding.empty()) {
    return Invalid("the request message is compressed but the call names no grpc-encoding");
  }
  if (head.encoding != "gzip") {
    return base::Status(base::Code::UNIMPLEMENTED,
                        fmt::format("crigate cannot inspect a request in grpc-encoding \"{}\"; "
                                    "send it uncompressed or as gzip",
                                    Quote(head.encoding)));
  }
  return Gunzip(first.payload(), max_bytes);
}

std::string FormatGrpcTimeout(std::chrono::nanoseconds t) {
  constexpr int64_t kMax = 99999999;  // 8 digits
  struct Unit {
    int64_t ns;
    char name;
  };
  constexpr Unit kUnits[] = {{1, 'n'},
                             {1000, 'u'},
                             {1000000, 'm'},
                             {1000000000, 'S'},
                             {int64_t{60} * 1000000000, 'M'},
                             {int64_t{3600} * 1000000000, 'H'}};
  const int64_t ns = std::max<int64_t>(t.count(), 1);
  for (const Unit& unit : kUnits) {
    if (ns / unit.ns <= kMax)
      return fmt::format("{}{}", std::max<int64_t>(ns / unit.ns, 1), unit.name);
  }
  return fmt::format("{}H", kMax);
}

std::string FrameMessage(std::string_view payload, bool compressed) {
  const auto n = static_cast<uint32_t>(payload.size());
  std::string out;
  out.reserve(5 + payload.size());
  out += static_cast<char>(compressed ? 1 : 0);
  out += static_cast<char>((n >> 24) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out.append(payload);
  return out;
}

base::Result<std::string> Gunzip(std::string_view compressed, size_t max_bytes) {
  z_stream z{};
  // 16 + MAX_WBITS: a gzip header and trailer, as grpc's gzip codec writes.
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    return base::Status::Internal("cannot start zlib's inflate");
  }
  std::string out;
  std::array<char, 16384> chunk;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const char* why = z.msg != nullptr ? z.msg : (rc == Z_BUF_ERROR ? "cut short" : "bad data");
      inflateEnd(&z);
      return Invalid(fmt::format("the gzip request message does not inflate: {}", why));
    }
    const size_t produced = chunk.size() - z.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&z);
      return base::Status(base::Code::RESOURCE_EXHAUSTED,
                          fmt::format("the gzip request message inflates to more than the {} "
                                      "bytes allowed",
                                      max_bytes));
    }
    out.append(chunk.data(), produced);
    if (rc == Z_OK && produced == 0 && z.avail_in == 0) {
      inflateEnd(&z);
      return Invalid("the gzip request message does not inflate: cut short");
    }
  }
  const bool trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (trailing) return Invalid("the gzip request message has bytes after its end");
  return out;
}

std::string PercentEncode(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u <= 0x7e && c != '%') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string PercentDecode(std::string_view message) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(message.size());
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '%' && i + 2 < message.size()) {
      const int hi = hex(message[i + 1]);
      const int lo = hex(message[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += message[i];
  }
  return out;
}

base::Status AnswerOf(const std::vector<Field>& fields) {
  const Field* status = nullptr;
  const Field* message = nullptr;
  for (const Field& f : fields) {
    if (f.name == "grpc-status" && status == nullptr) status = &f;
    if (f.name == "grpc-message" && message == nullptr) message = &f;
  }
  if (status == nullptr) {
    return base::Status(base::Code::UNKNOWN, "containerd's answer carried no grpc-status");
  }
  const std::string& v = status->value;
  if (v.empty() || v.size() > 2 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return base::Status(base::Code::UNKNOWN,
                        "containerd's answer carried grpc-status \"" + Quote(v) + "\"");
  }
  int code = std::stoi(v);
  if (code == 0) return base::Status::OK();
  if (code > static_cast<int>(base::Code::UNAUTHENTICATED))
    code = static_cast<int>(base::Code::UNKNOWN);
  return base::Status(static_cast<base::Code>(code),
                      message == nullptr ? std::string() : PercentDecode(message->value));
}

std::optional<std::string> LastMessage(std::string_view data, std::string_view encoding,
                                       size_t max_bytes) {
  std::optional<std::string_view> last;
  bool compressed = false;
  while (!data.empty()) {
    if (data.size() < 5) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const size_t n = (size_t{p[1]} << 24) | (size_t{p[2]} << 16) | (size_t{p[3]} << 8) | p[4];
    if (p[0] > 1 || data.size() - 5 < n) return std::nullopt;
    compressed = p[0] == 1;
    last = data.substr(5, n);
    data.remove_prefix(5 + n);
  }
  if (!last) return std::nullopt;
  if (!compressed) return std::string(*last);
  if (encoding != "gzip") return std::nullopt;
  auto inflated = Gunzip(*last, max_bytes);
  if (!inflated.ok()) return std::nullopt;
  return std::move(inflated).value();
}

std::vector<Field> TrailersOnly(base::Code code, std::string_view message) {
  return {{":status", "200"},
          {"content-type", "application/grpc"},
          {"grpc-status", std::to_string(static_cast<int>(code))},
          {"grpc-message", PercentEncode(message)}};
}

}  // namespace crigate::cri::h2
