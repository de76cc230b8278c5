#include "shim/spec_annotations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace crigate::shim {
namespace {

class SpecAnnotationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crigate-spec-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& text) {
    const std::string path = dir_ + "/config.json";
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(SpecAnnotationsTest, ReadsStringAnnotations) {
  std::map<std::string, std::string> a;
  const ApprovalStatus s = ReadSpecAnnotations(
      Write(
          R"({"ociVersion":"1.0.2","process":{"args":["sh"]},)"
          R"("annotations":{"crigate.io/approval":"v1.x","n":1,"io.kubernetes.cri.container-type":"sandbox"}})"),
      &a);
  ASSERT_TRUE(s.ok()) << s.reason();
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a["crigate.io/approval"], "v1.x");
  EXPECT_EQ(a["io.kubernetes.cri.container-type"], "sandbox");
}

TEST_F(SpecAnnotationsTest, NoAnnotationsIsEmpty) {
  std::map<std::string, std::string> a = {{"stale", "x"}};
  ASSERT_TRUE(ReadSpecAnnotations(Write(R"({"ociVersion":"1.0.2"})"), &a).ok());
  EXPECT_TRUE(a.empty());
}

TEST_F(SpecAnnotationsTest, BadFilesAreErrors) {
  std::map<std::string, std::string> a;
  EXPECT_TRUE(ReadSpecAnnotations(Write("{not json"), &a).error());
  EXPECT_TRUE(ReadSpecAnnotations(Write("[1,2]"), &a).error());
  EXPECT_TRUE(ReadSpecAnnotations(dir_ + "/missing.json", &a).error());
  EXPECT_TRUE(ReadSpecAnnotations(dir_, &a).error());
  std::string big(kMaxSpecBytes + 1, ' ');
  big[0] = '{';
  big.back() = '}';
  const ApprovalStatus s = ReadSpecAnnotations(Write(big), &a);
  EXPECT_TRUE(s.error());
  EXPECT_NE(s.reason().find("over the limit"), std::string::npos) << s.reason();
}

}  // namespace
}  // namespace crigate::shim
