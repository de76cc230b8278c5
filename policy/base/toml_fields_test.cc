#include "policy/base/toml_fields.h"

#include <gtest/gtest.h>

namespace crigate::base {
namespace {

using namespace std::chrono_literals;

toml::table Parse(std::string_view text) { return toml::parse(text); }

TEST(TomlFields, ReadsPresentKeysAndKeepsDefaultsForAbsentOnes) {
  toml::table root = Parse("[s]\non = true\nn = 5\nname = \"x\"\nlist = [\"a\", \"b\"]\n");
  std::vector<std::string> errors;
  TomlFields f(SectionOf(root, "s", errors), "s", errors);
  bool on = false, absent = true;
  int64_t n = 0;
  std::string name;
  std::vector<std::string> list;
  f.Bool("on", on);
  f.Bool("absent", absent);
  f.Int("n", 1, 10, n);
  f.String("name", name);
  f.StringList("list", list);
  f.RejectUnknown({"on", "absent", "n", "name", "list"});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_TRUE(on);
  EXPECT_TRUE(absent);
  EXPECT_EQ(n, 5);
  EXPECT_EQ(name, "x");
  EXPECT_EQ(list, (std::vector<std::string>{"a", "b"}));
}

TEST(TomlFields, EveryErrorNamesTheKeyInFull) {
  toml::table root = Parse("[s]\non = 1\nn = 50\nname = 3\ntypo = 1\n");
  std::vector<std::string> errors;
  TomlFields f(SectionOf(root, "s", errors), "s", errors);
  bool on = false;
  int64_t n = 0;
  std::string name;
  f.Bool("on", on);
  f.Int("n", 1, 10, n);
  f.String("name", name);
  f.RejectUnknown({"on", "n", "name"});
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "s.on: must be true or false", "s.n: must be an integer from 1 to 10",
                        "s.name: must be a non-empty string", "s.typo: unknown key"}));
  EXPECT_EQ(n, 0) << "a bad value leaves the default";
}

TEST(TomlFields, MillisSizesAndRatios) {
  toml::table root = Parse("[s]\nms = 250\nsize = 7\nratio = 0.5\nbad_ratio = 1.5\n");
  std::vector<std::string> errors;
  TomlFields f(SectionOf(root, "s", errors), "s", errors);
  std::chrono::milliseconds ms{0};
  size_t size = 0;
  double ratio = 0, bad = 0;
  f.Millis("ms", 1, 1000, ms);
  f.Size("size", 0, 10, size);
  f.Ratio("ratio", ratio);
  f.Ratio("bad_ratio", bad);
  EXPECT_EQ(ms, 250ms);
  EXPECT_EQ(size, 7u);
  EXPECT_EQ(ratio, 0.5);
  EXPECT_EQ(errors, (std::vector<std::string>{"s.bad_ratio: must be a ratio from 0 to 1"}));
}

TEST(TomlFields, DurationsAsOperatorsWriteThem) {
  toml::table root = Parse("[s]\na = \"5m\"\nb = 30\nc = \"soon\"\n");
  std::vector<std::string> errors;
  TomlFields f(SectionOf(root, "s", errors), "s", errors);
  std::chrono::seconds a{0}, b{0}, c{0};
  f.Duration("a", 1s, 3600s, a);
  f.Duration("b", 1s, 3600s, b);
  f.Duration("c", 1s, 3600s, c);
  EXPECT_EQ(a, 300s);
  EXPECT_EQ(b, 30s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("s.c: must be a duration", 0), 0u) << errors[0];
}

TEST(SectionOf, AbsentIsNullAndNotATableIsAnError) {
  toml::table root = Parse("s = 1\n");
  std::vector<std::string> errors;
  EXPECT_EQ(SectionOf(root, "none", errors), nullptr);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(SectionOf(root, "s", errors), nullptr);
  EXPECT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace crigate::base
