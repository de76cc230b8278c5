#include "cri/method_table.h"

#include <gtest/gtest.h>

namespace crigate::cri {
namespace {

TEST(ClassifyMethod, SplitsServiceAndAction) {
  MethodInfo info = ClassifyMethod("/runtime.v1.RuntimeService/RunPodSandbox");
  EXPECT_EQ(info.service, "runtime.v1.RuntimeService");
  EXPECT_EQ(info.action, "RunPodSandbox");
  EXPECT_TRUE(info.cri);
  EXPECT_FALSE(info.read_only);
}

TEST(ClassifyMethod, KnowsV1Alpha2AndImageService) {
  EXPECT_TRUE(ClassifyMethod("/runtime.v1alpha2.RuntimeService/Version").cri);
  EXPECT_TRUE(ClassifyMethod("/runtime.v1.ImageService/PullImage").cri);
  EXPECT_FALSE(ClassifyMethod("/grpc.health.v1.Health/Check").cri);
}

TEST(ClassifyMethod, ReadOnlyMethods) {
  for (const char* m : {"Version", "Status", "ListContainers", "ContainerStatus", "ImageStatus",
                        "ListImages", "ImageFsInfo", "ContainerStats", "GetContainerEvents"}) {
    EXPECT_TRUE(ClassifyMethod(std::string("/runtime.v1.RuntimeService/") + m).read_only) << m;
  }
  EXPECT_FALSE(ClassifyMethod("/runtime.v1.RuntimeService/ExecSync").read_only);
  EXPECT_FALSE(ClassifyMethod("/runtime.v1.ImageService/RemoveImage").read_only);
}

TEST(ClassifyMethod, UnknownMethodStillSplits) {
  MethodInfo info = ClassifyMethod("/runtime.v1.RuntimeService/SomethingNew");
  EXPECT_EQ(info.action, "SomethingNew");
  EXPECT_TRUE(info.cri);
  EXPECT_FALSE(info.read_only);
}

TEST(ClassifyMethod, MalformedPathsHaveNoAction) {
  for (const char* p : {"", "/", "//", "noslash", "/svc", "/svc/", "//Version", "/a/b/c"}) {
    MethodInfo info = ClassifyMethod(p);
    EXPECT_TRUE(info.action.empty()) << p;
    EXPECT_FALSE(info.cri) << p;
  }
}

}  // namespace
}  // namespace crigate::cri
