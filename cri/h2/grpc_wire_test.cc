#include "cri/h2/grpc_wire.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

namespace crigate::cri::h2 {
namespace {

using namespace std::chrono_literals;

// What grpc-go and grpc++ clients send for a CRI call (crictl's :authority
// is the socket's path).
std::vector<Field> CrictlHead(const std::string& path = "/runtime.v1.RuntimeService/Version") {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":path", path},
          {":authority", "/run/crigate/crigate.sock"},
          {"content-type", "application/grpc"},
          {"user-agent", "grpc-go/1.51.0"},
          {"te", "trailers"},
          {"grpc-timeout", "1999m"}};
}

std::string Refusal(const std::vector<Field>& fields) {
  auto head = ParseRequestHead(fields);
  EXPECT_FALSE(head.ok()) << "accepted";
  if (head.ok()) return "";
  EXPECT_EQ(head.code(), base::Code::INVALID_ARGUMENT);
  return head.error();
}

TEST(RequestHead, ACrictlCallIsReadAsSent) {
  auto fields = CrictlHead("/runtime.v1.RuntimeService/RunPodSandbox");
  fields.push_back({"authorization", "Bearer abc.def.ghi"});
  fields.push_back({"grpc-encoding", "gzip"});
  auto head = ParseRequestHead(fields);
  ASSERT_TRUE(head.ok()) << head.error();
  EXPECT_EQ(head->path, "/runtime.v1.RuntimeService/RunPodSandbox");
  EXPECT_EQ(head->authority, "/run/crigate/crigate.sock");
  ASSERT_TRUE(head->timeout.has_value());
  EXPECT_EQ(*head->timeout, 1999ms);
  EXPECT_EQ(head->encoding, "gzip");
  EXPECT_EQ(head->bearer_token, "abc.def.ghi");
}

TEST(RequestHead, IdentityEncodingAndNoAuthorityAreFine) {
  auto fields = CrictlHead();
  fields.erase(fields.begin() + 3);  // :authority
  fields.push_back({"grpc-encoding", "identity"});
  fields.push_back({"authorization", "Basic dXNlcg=="});
  auto head = ParseRequestHead(fields);
  ASSERT_TRUE(head.ok()) << head.error();
  EXPECT_EQ(head->authority, "");
  EXPECT_EQ(head->encoding, "");
  EXPECT_EQ(head->bearer_token, "") << "only a Bearer token is the gate's";
}

// One :path, spelled once: a second one is how a caller would show the gate
// one method and containerd another.
TEST(RequestHead, ASecondPathIsRefused) {
  auto fields = CrictlHead("/runtime.v1.RuntimeService/Version");
  fields.insert(fields.begin() + 3, {":path", "/containerd.services.tasks.v1.Tasks/Start"});
  EXPECT_NE(Refusal(fields).find(":path is sent twice"), std::string::npos);
}

TEST(RequestHead, MissingOrUnknownPseudoHeadersAreRefused) {
  for (const char* required : {":method", ":scheme", ":path"}) {
    auto fields = CrictlHead();
    fields.erase(std::remove_if(fields.begin(), fields.end(),
                                [&](const Field& f) { return f.name == required; }),
                 fields.end());
    EXPECT_NE(Refusal(fields).find(std::string("no ") + required), std::string::npos) << required;
  }
  auto with_status = CrictlHead();
  with_status.insert(with_status.begin(), {":status", "200"});
  EXPECT_NE(Refusal(with_status).find("not one a request has"), std::string::npos);
  auto with_protocol = CrictlHead();
  with_protocol.insert(with_protocol.begin(), {":protocol", "websocket"});
  EXPECT_NE(Refusal(with_protocol).find(":protocol"), std::string::npos);
}

TEST(RequestHead, APseudoHeaderAfterARegularFieldIsRefused) {
  auto fields = CrictlHead();
  fields.push_back({":authority", "elsewhere"});
  EXPECT_NE(Refusal(fields).find("comes after a regular field"), std::string::npos);
}

TEST(RequestHead, OnlyPostAndGrpcContentType) {
  auto get = CrictlHead();
  get[0].value = "GET";
  EXPECT_NE(Refusal(get).find("gRPC calls are POST"), std::string::npos);
  auto json = CrictlHead();
  json[4].value = "application/json";
  EXPECT_NE(Refusal(json).find("not application/grpc"), std::string::npos);
  auto grpcish = CrictlHead();
  grpcish[4].value = "application/grpcx";
  EXPECT_NE(Refusal(grpcish).find("not application/grpc"), std::string::npos);
  auto none = CrictlHead();
  none.erase(none.begin() + 4);
  EXPECT_NE(Refusal(none).find("no content-type"), std::string::npos);
  auto twice = CrictlHead();
  twice.push_back({"content-type", "application/grpc"});
  EXPECT_NE(Refusal(twice).find("content-type is sent twice"), std::string::npos);
  for (const char* fine : {"application/grpc+proto", "application/grpc;charset=utf-8"}) {
    auto fields = CrictlHead();
    fields[4].value = fine;
    EXPECT_TRUE(ParseRequestHead(fields).ok()) << fine;
  }
}

TEST(RequestHead, UppercaseAndConnectionSpecificFieldsAreRefused) {
  auto upper = CrictlHead();
  upper.push_back({"X-Trace", "1"});
  EXPECT_NE(Refusal(upper).find("not lowercase"), std::string::npos);
  for (const char* name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    auto fields = CrictlHead();
    fields.push_back({name, "x"});
    EXPECT_NE(Refusal(fields).find("connection-specific"), std::string::npos) << name;
  }
  auto te = CrictlHead();
  te[6].value = "gzip";
  EXPECT_NE(Refusal(te).find("only \"trailers\""), std::string::npos);
  auto empty = CrictlHead();
  empty.push_back({"", "x"});
  EXPECT_NE(Refusal(empty).find("no name"), std::string::npos);
}

// RFC 9113 section 8.2.1: what another decoder could read differently.
TEST(RequestHead, ForbiddenCharactersInNamesAndValuesAreRefused) {
  for (const std::string& name :
       {std::string("x trace"), std::string("x\x7ftrace"), std::string("x:trace"),
        std::string("\xc3\xa9t\xc3\xa9"), std::string("x\0y", 3)}) {
    auto fields = CrictlHead();
    fields.push_back({name, "1"});
    EXPECT_NE(Refusal(fields).find("a character HTTP/2 forbids"), std::string::npos) << name;
  }
  for (const std::string& value :
       {std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3)}) {
    auto fields = CrictlHead();
    fields.push_back({"x-trace", value});
    EXPECT_NE(Refusal(fields).find("NUL, CR or LF"), std::string::npos);
  }
  for (const char* value : {" a", "a ", "\ta", "a\t"}) {
    auto fields = CrictlHead();
    fields.push_back({"x-trace", value});
    EXPECT_NE(Refusal(fields).find("white space"), std::string::npos) << value;
  }
  auto path = CrictlHead(std::string("/runtime.v1.RuntimeService/Version\n", 35));
  EXPECT_NE(Refusal(path).find("NUL, CR or LF"), std::string::npos);
}

// The gate reads these; a second copy could be the one containerd takes.
TEST(RequestHead, EveryFieldTheGateReadsIsSentOnce) {
  for (const Field& again : std::vector<Field>{{"grpc-timeout", "5S"},
                                               {"grpc-encoding", "gzip"},
                                               {"authorization", "Bearer x.y.z"},
                                               {"te", "trailers"},
                                               {"content-type", "application/grpc"}}) {
    auto fields = CrictlHead();
    if (again.name == "grpc-encoding" || again.name == "authorization") fields.push_back(again);
    fields.push_back(again);
    EXPECT_NE(Refusal(fields).find(again.name + " is sent twice"), std::string::npos) << again.name;
  }
  auto metadata = CrictlHead();
  metadata.push_back({"x-trace", "1"});
  metadata.push_back({"x-trace", "2"});
  EXPECT_TRUE(ParseRequestHead(metadata).ok()) << "other metadata may repeat";
}

TEST(RequestHead, AFieldValueIsQuotedPrintably) {
  auto fields = CrictlHead();
  fields[0].value = std::string("PO\x01ST", 5);
  const std::string message = Refusal(fields);
  EXPECT_NE(message.find("PO\\x01ST"), std::string::npos) << message;
}

TEST(GrpcTimeout, EveryUnitAndTheLimits) {
  EXPECT_EQ(*ParseGrpcTimeout("2H"), 2h);
  EXPECT_EQ(*ParseGrpcTimeout("3M"), 3min);
  EXPECT_EQ(*ParseGrpcTimeout("5S"), 5s);
  EXPECT_EQ(*ParseGrpcTimeout("100m"), 100ms);
  EXPECT_EQ(*ParseGrpcTimeout("7u"), 7us);
  EXPECT_EQ(*ParseGrpcTimeout("99999999n"), 99999999ns);
  EXPECT_EQ(*ParseGrpcTimeout("0S"), 0s);
  EXPECT_EQ(*ParseGrpcTimeout("99999999H"), std::chrono::nanoseconds::max()) << "saturates";
  for (const char* bad : {"", "S", "5", "123456789S", "5s", "-5S", "5 S", "1.5S", "5SS"}) {
    EXPECT_EQ(ParseGrpcTimeout(bad).code(), base::Code::INVALID_ARGUMENT) << bad;
  }
  auto fields = CrictlHead();
  fields[7].value = "soon";
  EXPECT_NE(Refusal(fields).find("grpc-timeout"), std::string::npos);
}

TEST(FirstMessage, AssemblesAcrossChunksOfAnySize) {
  const std::string payload(300, 'p');
  const std::string framed = FrameMessage(payload);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{7}, size_t{305}}) {
    FirstMessage first(1024);
    FirstMessage::State state = FirstMessage::State::kNeedMore;
    for (size_t at = 0; at < framed.size(); at += chunk) {
      EXPECT_EQ(state, FirstMessage::State::kNeedMore) << "complete before its end";
      state = first.Add(std::string_view(framed).substr(at, chunk));
    }
    EXPECT_EQ(state, FirstMessage::State::kComplete) << chunk;
    EXPECT_EQ(first.payload(), payload);
    EXPECT_FALSE(first.compressed());
    EXPECT_EQ(first.announced(), 300u);
    EXPECT_EQ(first.extra_bytes(), 0u);
    EXPECT_EQ(first.Finish(), FirstMessage::State::kComplete);
  }
}

TEST(FirstMessage, AnEmptyMessageIsComplete) {
  FirstMessage first(1024);  // ListContainersRequest with no filter is 0 bytes
  EXPECT_EQ(first.Add(FrameMessage("")), FirstMessage::State::kComplete);
  EXPECT_EQ(first.payload(), "");
}

TEST(FirstMessage, ASecondMessageIsCountedNotKept) {
  FirstMessage first(1024);
  EXPECT_EQ(first.Add(FrameMessage("one") + FrameMessage("two")), FirstMessage::State::kComplete);
  EXPECT_EQ(first.payload(), "one");
  EXPECT_EQ(first.extra_bytes(), 8u);
  EXPECT_EQ(first.Add("more"), FirstMessage::State::kComplete);
  EXPECT_EQ(first.extra_bytes(), 12u);
}

std::string Prefix(uint32_t n) {
  std::string prefix(1, '\0');
  prefix += static_cast<char>(n >> 24);
  prefix += static_cast<char>((n >> 16) & 0xff);
  prefix += static_cast<char>((n >> 8) & 0xff);
  prefix += static_cast<char>(n & 0xff);
  return prefix;
}

TEST(FirstMessage, AMessageOfExactlyTheLimitIsTaken) {
  FirstMessage first(1000);
  EXPECT_EQ(first.Add(Prefix(1000)), FirstMessage::State::kNeedMore);
  EXPECT_EQ(first.Add(std::string(1000, 'm')), FirstMessage::State::kComplete);
  FirstMessage over(1000);
  EXPECT_EQ(over.Add(Prefix(1001)), FirstMessage::State::kTooLarge);
}

TEST(FirstMessage, TooLargeIsKnownFromThePrefixAlone) {
  FirstMessage first(16 << 20);
  // 16 MiB + 1 over a 16 MiB limit is refused at once.
  EXPECT_EQ(first.Add(Prefix((16u << 20) + 1)), FirstMessage::State::kTooLarge);
  EXPECT_TRUE(first.payload().empty()) << "nothing of it was buffered";
  EXPECT_NE(first.Problem().find("16777217 bytes, more than the 16777216 allowed"),
            std::string::npos)
      << first.Problem();
  EXPECT_EQ(first.Add("anything"), FirstMessage::State::kTooLarge) << "and stays so";
}

TEST(FirstMessage, MalformedStreams) {
  FirstMessage flag(1024);
  std::string framed = FrameMessage("x");
  framed[0] = 2;
  EXPECT_EQ(flag.Add(framed), FirstMessage::State::kMalformed);
  EXPECT_NE(flag.Problem().find("compressed flag is 2"), std::string::npos) << flag.Problem();

  FirstMessage empty(1024);
  EXPECT_EQ(empty.Finish(), FirstMessage::State::kMalformed);
  EXPECT_NE(empty.Problem().find("ended with no message"), std::string::npos);

  FirstMessage cut_prefix(1024);
  EXPECT_EQ(cut_prefix.Add(FrameMessage("hello").substr(0, 3)), FirstMessage::State::kNeedMore);
  EXPECT_EQ(cut_prefix.Finish(), FirstMessage::State::kMalformed);
  EXPECT_NE(cut_prefix.Problem().find("3 of 5 bytes"), std::string::npos) << cut_prefix.Problem();

  FirstMessage cut_payload(1024);
  EXPECT_EQ(cut_payload.Add(FrameMessage("hello").substr(0, 7)), FirstMessage::State::kNeedMore);
  EXPECT_EQ(cut_payload.Finish(), FirstMessage::State::kMalformed);
  EXPECT_NE(cut_payload.Problem().find("2 of 5 bytes"), std::string::npos) << cut_payload.Problem();
  EXPECT_EQ(cut_payload.Add("lo"), FirstMessage::State::kMalformed) << "data after the end";

  FirstMessage late(1024);
  EXPECT_EQ(late.Add(FrameMessage("whole")), FirstMessage::State::kComplete);
  EXPECT_EQ(late.Finish(), FirstMessage::State::kComplete);
  EXPECT_EQ(late.Add("late"), FirstMessage::State::kMalformed);
  EXPECT_EQ(late.Problem(), "the request stream sent data after its end");
}

// A prefix that announces the limit reserves no more than a small buffer
// until the bytes come.
TEST(FirstMessage, ThePrefixAloneReservesLittle) {
  FirstMessage first(256u << 20);
  EXPECT_EQ(first.Add(Prefix(256u << 20)), FirstMessage::State::kNeedMore);
  EXPECT_LE(first.payload().capacity(), 64u * 1024);
}

TEST(FirstMessage, TheCompressedFlagIsReported) {
  FirstMessage first(1024);
  EXPECT_EQ(first.Add(FrameMessage("zz", true)), FirstMessage::State::kComplete);
  EXPECT_TRUE(first.compressed());
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(Gunzip, RoundTripsWhatGrpcsGzipCodecWrites) {
  const std::string message = std::string(100000, 'a') + "the request";
  auto inflated = Gunzip(Gzip(message), 1 << 20);
  ASSERT_TRUE(inflated.ok()) << inflated.error();
  EXPECT_EQ(*inflated, message);
  auto empty = Gunzip(Gzip(""), 1024);
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(*empty, "");
}

// A small message that inflates past the limit is stopped at the limit, not
// inflated in full (a gzip bomb).
TEST(Gunzip, ABombStopsAtTheLimit) {
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 100000u);
  auto inflated = Gunzip(bomb, 16 << 20);
  EXPECT_EQ(inflated.code(), base::Code::RESOURCE_EXHAUSTED);
  EXPECT_NE(inflated.error().find("more than the 16777216 bytes"), std::string::npos);
}

TEST(Gunzip, ExactlyTheLimitInflates) {
  auto inflated = Gunzip(Gzip(std::string(50000, 'x')), 50000);
  ASSERT_TRUE(inflated.ok()) << inflated.error();
  EXPECT_EQ(inflated->size(), 50000u);
  EXPECT_EQ(Gunzip(Gzip(std::string(50001, 'x')), 50000).code(), base::Code::RESOURCE_EXHAUSTED);
}

TEST(Gunzip, GarbageCutAndTrailingBytesAreRefused) {
  // Two gzip members: grpc's codec writes one, and the second would be read
  // by one decoder and not by another.
  EXPECT_EQ(Gunzip(Gzip("first") + Gzip("second"), 1024).code(), base::Code::INVALID_ARGUMENT);
  EXPECT_EQ(Gunzip("not gzip at all", 1024).code(), base::Code::INVALID_ARGUMENT);
  const std::string whole = Gzip("a request message");
  EXPECT_EQ(Gunzip(whole.substr(0, whole.size() - 4), 1024).code(), base::Code::INVALID_ARGUMENT);
  EXPECT_EQ(Gunzip(whole + "x", 1024).code(), base::Code::INVALID_ARGUMENT);
  EXPECT_EQ(Gunzip("", 1024).code(), base::Code::INVALID_ARGUMENT);
}

TEST(MessageToJudge, TheEncodingMustMatchTheFlag) {
  RequestHead plain, gzip, snappy;
  gzip.encoding = "gzip";
  snappy.encoding = "snappy";
  FirstMessage raw(1024), packed(1024);
  ASSERT_EQ(raw.Add(FrameMessage("as sent")), FirstMessage::State::kComplete);
  ASSERT_EQ(packed.Add(FrameMessage(Gzip("inside"), true)), FirstMessage::State::kComplete);

  EXPECT_EQ(*MessageToJudge(raw, plain, 1024), "as sent");
  EXPECT_EQ(*MessageToJudge(raw, gzip, 1024), "as sent") << "gzip may still send one plain";
  EXPECT_EQ(*MessageToJudge(packed, gzip, 1024), "inside");
  EXPECT_EQ(MessageToJudge(packed, plain, 1024).code(), base::Code::INVALID_ARGUMENT);
  auto unknown = MessageToJudge(packed, snappy, 1024);
  EXPECT_EQ(unknown.code(), base::Code::UNIMPLEMENTED);
  EXPECT_NE(unknown.error().find("\"snappy\""), std::string::npos) << unknown.error();
  EXPECT_EQ(MessageToJudge(packed, gzip, 3).code(), base::Code::RESOURCE_EXHAUSTED);
  FirstMessage partial(1024);
  EXPECT_EQ(MessageToJudge(partial, plain, 1024).code(), base::Code::INTERNAL);
}

TEST(TrailersOnly, StatusAndAPercentEncodedMessage) {
  const std::vector<Field> fields =
      TrailersOnly(base::Code::PERMISSION_DENIED, "crigate: 100% denied\nnaïve");
  const std::vector<Field> expected = {{":status", "200"},
                                       {"content-type", "application/grpc"},
                                       {"grpc-status", "7"},
                                       {"grpc-message", "crigate: 100%25 denied%0Ana%C3%AFve"}};
  EXPECT_EQ(fields, expected);
}

TEST(FormatGrpcTimeout, FinestUnitInEightDigitsRoundedDown) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(FormatGrpcTimeout(nanoseconds(1500)), "1500n");
  EXPECT_EQ(FormatGrpcTimeout(std::chrono::seconds(2)), "2000000u");
  EXPECT_EQ(FormatGrpcTimeout(std::chrono::seconds(120) + nanoseconds(999)), "120000m");
  EXPECT_EQ(FormatGrpcTimeout(nanoseconds(0)), "1n") << "never zero: the call still ends";
  EXPECT_EQ(FormatGrpcTimeout(std::chrono::hours(24 * 365 * 20)), "10512000M");
  for (auto t : {nanoseconds(123456789), nanoseconds(98765432101234)}) {
    auto parsed = ParseGrpcTimeout(FormatGrpcTimeout(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_LE(*parsed, t);
    EXPECT_GT(*parsed, t * 999 / 1000);
  }
}

TEST(PercentDecode, UndoesPercentEncodeAndKeepsABrokenEscape) {
  const std::string message = "crigate: 100% denied\nna\xc3\xafve";
  EXPECT_EQ(PercentDecode(PercentEncode(message)), message);
  EXPECT_EQ(PercentDecode("50%"), "50%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("%41%62"), "Ab");
}

TEST(AnswerOf, StatusAndMessageFromTrailers) {
  EXPECT_TRUE(AnswerOf({{"grpc-status", "0"}}).ok());
  const base::Status denied = AnswerOf({{"grpc-status", "7"}, {"grpc-message", "no%20way"}});
  EXPECT_EQ(denied.code(), base::Code::PERMISSION_DENIED);
  EXPECT_EQ(denied.message(), "no way");
  EXPECT_EQ(AnswerOf({{"grpc-message", "x"}}).code(), base::Code::UNKNOWN) << "no grpc-status";
  EXPECT_EQ(AnswerOf({{"grpc-status", "-1"}}).code(), base::Code::UNKNOWN);
  EXPECT_EQ(AnswerOf({{"grpc-status", "007"}}).code(), base::Code::UNKNOWN);
  EXPECT_EQ(AnswerOf({{"grpc-status", "99"}}).code(), base::Code::UNKNOWN);
}

TEST(LastMessage, TheLastWholeMessageDecompressedWhenFlagged) {
  const std::string two = FrameMessage("first") + FrameMessage("second");
  EXPECT_EQ(LastMessage(two, "", 1024), "second");
  EXPECT_EQ(LastMessage(FrameMessage(""), "", 1024), "");
  EXPECT_FALSE(LastMessage("", "", 1024)) << "no message at all";
  EXPECT_FALSE(LastMessage(two.substr(0, two.size() - 1), "", 1024)) << "cut inside a message";
  EXPECT_FALSE(LastMessage(FrameMessage("x", true), "", 1024)) << "compressed, no encoding";
  EXPECT_FALSE(LastMessage(FrameMessage("not gzip", true), "gzip", 1024));
  EXPECT_EQ(LastMessage(FrameMessage("a") + FrameMessage(Gzip("packed"), true), "gzip", 1024),
            "packed");
}

TEST(FrameMessage, PrefixIsFlagAndBigEndianLength) {
  const std::string framed = FrameMessage(std::string(0x010203, 'x'), true);
  ASSERT_EQ(framed.size(), 5u + 0x010203);
  EXPECT_EQ(framed.substr(0, 5), std::string("\x01\x00\x01\x02\x03", 5));
}

}  // namespace
}  // namespace crigate::cri::h2
