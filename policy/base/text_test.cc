#include "policy/base/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace crigate::base {
namespace {

TEST(Join, ItemsWithTheSeparatorBetween) {
  EXPECT_EQ(Join(std::vector<std::string>{"a", "b", "c"}), "a, b, c");
  EXPECT_EQ(Join(std::vector<std::string>{"a", "b"}, "|"), "a|b");
  EXPECT_EQ(Join(std::vector<std::string>{}), "");
}

// A caller's bytes in a log line: nothing it sends can forge a line break, a
// terminal escape, or an escape sequence of ours.
TEST(Printable, EscapesEverythingButPrintableAsciiAndCutsAtTheLimit) {
  EXPECT_EQ(Printable("/runtime.v1.RuntimeService/Version", 100),
            "/runtime.v1.RuntimeService/Version");
  EXPECT_EQ(Printable(std::string("a\nb\x1b[0m\x7f\xc3\xa9\0", 11), 100),
            "a\\x0ab\\x1b[0m\\x7f\\xc3\\xa9\\x00");
  EXPECT_EQ(Printable("back\\x0a", 100), "back\\x5cx0a") << "a literal \\x is not an escape";
  EXPECT_EQ(Printable("abcdef", 4), "abcd...");
  EXPECT_EQ(Printable("abcd", 4), "abcd");
}

}  // namespace
}  // namespace crigate::base
