#include "cri/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace crigate::log {
namespace {

class LogFormat : public ::testing::Test {
 protected:
  void TearDown() override { SetFormat(Format::kText); }
};

TEST_F(LogFormat, TextIsTimeLevelMessage) {
  SetFormat(Format::kText);
  EXPECT_EQ(FormatLine("2026-11-30T08:00:00.000Z", Level::kWarn, "monitor stopped abc"),
            "2026-11-30T08:00:00.000Z warn  monitor stopped abc\n");
}

TEST_F(LogFormat, JsonIsOneObjectWithTheSameFields) {
  SetFormat(Format::kJson);
  const std::string line =
      FormatLine("2026-11-30T08:00:00.000Z", Level::kInfo, "allow CreateContainer uid=0");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  nlohmann::json object = nlohmann::json::parse(line);
  EXPECT_EQ(object, (nlohmann::json{{"time", "2026-11-30T08:00:00.000Z"},
                                    {"level", "info"},
                                    {"message", "allow CreateContainer uid=0"}}));
}

TEST_F(LogFormat, JsonEscapesWhatACallerCanPutInAReason) {
  SetFormat(Format::kJson);
  // Quotes, a backslash, a newline that would split the line, a control
  // byte, valid UTF-8, and bytes that are not UTF-8 at all.
  const std::string message = "pod \"a\\b\"\nnext\x01 caf\xc3\xa9 \xff\xfe end \xe0\x80\x80";
  const std::string line = FormatLine("t", Level::kError, message);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  nlohmann::json object = nlohmann::json::parse(line);  // throws on invalid UTF-8
  EXPECT_EQ(object["level"], "error");
  EXPECT_EQ(object["message"],
            "pod \"a\\b\"\nnext\x01 caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(LogFormatNames, OnlyTextAndJson) {
  Format f = Format::kText;
  EXPECT_TRUE(ParseFormat("json", &f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_TRUE(ParseFormat("text", &f));
  EXPECT_EQ(f, Format::kText);
  EXPECT_FALSE(ParseFormat("JSON", &f));
  EXPECT_FALSE(ParseFormat("", &f));
}

}  // namespace
}  // namespace crigate::log
