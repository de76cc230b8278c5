#include "policy/base/status.h"

#include <gtest/gtest.h>

namespace crigate::base {
namespace {

TEST(Status, DefaultIsOkWithNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::OK);
  EXPECT_EQ(s.message(), "");
}

TEST(Status, FactoriesCarryTheirCode) {
  EXPECT_EQ(Status::NotFound("x").code(), Code::NOT_FOUND);
  EXPECT_EQ(Status::InvalidArgument("x").code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(Status::PermissionDenied("x").code(), Code::PERMISSION_DENIED);
  EXPECT_EQ(Status::Unavailable("x").code(), Code::UNAVAILABLE);
  EXPECT_EQ(Status::Internal("why").message(), "why");
}

TEST(CodeName, NamesEveryCanonicalCodeAndNumbersTheRest) {
  EXPECT_EQ(CodeName(Code::OK), "OK");
  EXPECT_EQ(CodeName(Code::PERMISSION_DENIED), "PERMISSION_DENIED");
  EXPECT_EQ(CodeName(Code::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(CodeName(17), "CODE_17");
  EXPECT_EQ(CodeName(-1), "CODE_-1");
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::NotFound("gone");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), Code::NOT_FOUND);
  EXPECT_EQ(bad.error(), "gone");
}

TEST(Result, AnOkStatusWithoutAValueIsNeverSuccess) {
  Result<int> r = Status::OK();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::INTERNAL);
}

}  // namespace
}  // namespace crigate::base
