#include "policy/privilege.h"

#include <gtest/gtest.h>

namespace crigate::policy {
namespace {

GateRequest Call(const std::string& action, uid_t uid, gid_t gid, bool known = true) {
  GateRequest r;
  r.action = action;
  r.caller = {4242, uid, gid, known};
  return r;
}

StageResult Check(PrivilegeStage& stage, const GateRequest& r) {
  CallState state;
  return stage.Check(r, state);
}

TEST(PrivilegeStageTest, SuperUsersAndGroupsPass) {
  PrivilegeStage stage({{0, 1001}, {990}, true});
  EXPECT_EQ(Check(stage, Call("CreateContainer", 0, 0)).verdict, Verdict::kAllow);
  EXPECT_EQ(Check(stage, Call("CreateContainer", 1001, 1001)).reason, "uid 1001 is a super user");
  EXPECT_EQ(Check(stage, Call("PullImage", 2000, 990)).reason, "gid 990 is a super group");
}

TEST(PrivilegeStageTest, OtherCallersAreDeniedWithUidAndMethod) {
  PrivilegeStage stage({{0}, {990}, true});
  StageResult r = Check(stage, Call("CreateContainer", 1000, 1000));
  EXPECT_EQ(r.verdict, Verdict::kDeny);
  EXPECT_EQ(r.code, base::Code::PERMISSION_DENIED);
  EXPECT_EQ(r.reason,
            "uid 1000 (gid 1000, pid 4242) may not call CreateContainer: not a configured super "
            "user or group");
}

TEST(PrivilegeStageTest, UnknownCallerIsDeniedEvenWithRootLookingIds) {
  PrivilegeStage stage({{0}, {}, true});
  // Unknown credentials default to -1, but a zeroed struct must not pass as root either.
  StageResult r = Check(stage, Call("RunPodSandbox", 0, 0, /*known=*/false));
  EXPECT_EQ(r.verdict, Verdict::kDeny);
  EXPECT_NE(r.reason.find("caller of RunPodSandbox is unknown"), std::string::npos);
}

TEST(PrivilegeStageTest, ReadOnlyMethodsAreOpenUnlessConfigured) {
  PrivilegeStage open({{0}, {}, true});
  EXPECT_EQ(Check(open, Call("ListContainers", 1000, 1000)).verdict, Verdict::kAllow);
  EXPECT_EQ(Check(open, Call("ImageStatus", 0, 0, false)).verdict, Verdict::kAllow);
  PrivilegeStage closed({{0}, {}, false});
  EXPECT_EQ(Check(closed, Call("ListContainers", 1000, 1000)).verdict, Verdict::kDeny);
  EXPECT_EQ(Check(closed, Call("ListContainers", 0, 0)).verdict, Verdict::kAllow);
}

TEST(PrivilegeStageTest, NoSuperUsersMeansNobodyPasses) {
  PrivilegeStage stage({{}, {}, true});
  EXPECT_EQ(Check(stage, Call("CreateContainer", 0, 0)).verdict, Verdict::kDeny);
}

}  // namespace
}  // namespace crigate::policy
