#include "cri/method_table.h"

#include <gtest/gtest.h>

#include <string>

namespace crigate::cri {
namespace {

using policy::CriService;

TEST(ParseMethodPath, ServesTheFourCriServices) {
  MethodPath p = ParseMethodPath("/runtime.v1.RuntimeService/RunPodSandbox");
  EXPECT_TRUE(p.served);
  EXPECT_EQ(p.service, CriService::kRuntime);
  EXPECT_EQ(p.package, "runtime.v1");
  EXPECT_EQ(p.method, "RunPodSandbox");

  p = ParseMethodPath("/runtime.v1.ImageService/PullImage");
  EXPECT_TRUE(p.served);
  EXPECT_EQ(p.service, CriService::kImage);

  p = ParseMethodPath("/runtime.v1alpha2.RuntimeService/Version");
  EXPECT_TRUE(p.served);
  EXPECT_EQ(p.package, "runtime.v1alpha2");
  EXPECT_EQ(p.service, CriService::kRuntime);

  p = ParseMethodPath("/runtime.v1alpha2.ImageService/ListImages");
  EXPECT_TRUE(p.served);
  EXPECT_EQ(p.service, CriService::kImage);
}

TEST(ParseMethodPath, UnknownMethodOfACriServiceIsServed) {
  // Served (and classed mutating by policy): containerd answers UNIMPLEMENTED.
  MethodPath p = ParseMethodPath("/runtime.v1.RuntimeService/SomethingNew");
  EXPECT_TRUE(p.served);
  EXPECT_EQ(p.method, "SomethingNew");
}

TEST(ParseMethodPath, EverySpellingButTheExactOneIsRefused) {
  for (const char* path : {
           "",                                                      // empty
           "/",                                                     // root
           "runtime.v1.RuntimeService/RunPodSandbox",               // no leading slash
           "//runtime.v1.RuntimeService/RunPodSandbox",             // double leading slash
           "/runtime.v1.RuntimeService//RunPodSandbox",             // double middle slash
           "/runtime.v1.RuntimeService/RunPodSandbox/",             // trailing slash
           "/runtime.v1.RuntimeService/",                           // no method
           "/runtime.v1.RuntimeService",                            // no method, no slash
           "/Runtime.v1.RuntimeService/RunPodSandbox",              // case of the package
           "/runtime.v1.runtimeservice/RunPodSandbox",              // case of the service
           "/RUNTIME.V1.RUNTIMESERVICE/RUNPODSANDBOX",              // all caps
           "/runtime.v1.RuntimeService/Run%50odSandbox",            // percent-encoded method
           "/runtime%2Ev1.RuntimeService/RunPodSandbox",            // percent-encoded package
           "/runtime.v1.RuntimeService%2FRunPodSandbox",            // percent-encoded slash
           "/runtime.v1.RuntimeService/RunPodSandbox?x=1",          // query
           "/runtime.v1.RuntimeService/RunPodSandbox ",             // trailing space
           "/runtime.v1.RuntimeService/1Version",                   // not an identifier
           "/runtime.v1.RuntimeService/a/b",                        // extra segment
           "/runtime.v1beta1.RuntimeService/Version",               // unknown CRI version
           "/runtime.RuntimeService/Version",                       // no version
           "/containerd.services.namespaces.v1.Namespaces/Create",  // containerd's own API
           "/containerd.services.tasks.v1.Tasks/Start",
           "/grpc.health.v1.Health/Check",  // not a CRI path: the relay answers it itself
                                            // (cri/health.h)
           "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
       }) {
    MethodPath p = ParseMethodPath(path);
    EXPECT_FALSE(p.served) << "'" << path << "'";
    EXPECT_TRUE(p.method.empty()) << "'" << path << "'";
  }
}

TEST(ParseMethodPath, ANulByteIsNotPartOfAName) {
  std::string path = "/runtime.v1.RuntimeService/Version";
  path.push_back('\0');
  EXPECT_FALSE(ParseMethodPath(path).served);
}

}  // namespace
}  // namespace crigate::cri
