#include "shim/shim_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace crigate::shim {
namespace {

ShimCall Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "containerd-shim-crigate-v2");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseShimArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(ShimArgsTest, ContainerdsStart) {
  const ShimCall c = Parse({"-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
                            "-publish-binary", "/usr/bin/containerd", "-id", "abc", "start"});
  EXPECT_EQ(c.action, "start");
  EXPECT_EQ(c.id, "abc");
  EXPECT_FALSE(c.unparsed);
  EXPECT_TRUE(c.NeedsApproval());
  EXPECT_TRUE(Parse({"-namespace", "k8s.io", "-id", "abc", "-debug", "start"}).NeedsApproval());
}

TEST(ShimArgsTest, ContainerdsDeleteAndServe) {
  const ShimCall del = Parse({"-namespace", "k8s.io", "-address", "/a", "-publish-binary", "/c",
                              "-id", "abc", "-bundle", "/run/b", "delete"});
  EXPECT_EQ(del.action, "delete");
  EXPECT_FALSE(del.NeedsApproval());
  const ShimCall serve = Parse({"-namespace", "k8s.io", "-id", "abc", "-address", "/a"});
  EXPECT_EQ(serve.action, "");
  EXPECT_FALSE(serve.NeedsApproval());
}

TEST(ShimArgsTest, GoFlagSpellings) {
  EXPECT_EQ(Parse({"--namespace=k8s.io", "--id=start", "delete"}).action, "delete");
  EXPECT_EQ(Parse({"-id", "start", "delete"}).action, "delete");
  EXPECT_EQ(Parse({"-id", "delete", "start"}).action, "start");
  EXPECT_EQ(Parse({"-debug=false", "start"}).action, "start");
  // A bool flag takes no separate value: "false" is the subcommand.
  EXPECT_EQ(Parse({"-debug", "false", "start"}).action, "false");
  EXPECT_EQ(Parse({"--", "-start"}).action, "-start");
  EXPECT_EQ(Parse({"-", "start"}).action, "-");
  EXPECT_EQ(Parse({"-namespace", "x", "start", "delete"}).action, "start");
}

TEST(ShimArgsTest, WhatGoWouldNotParseIsTreatedAsAStart) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-unknown", "x", "delete"},
                                             {"-h"},
                                             {"---id", "x", "delete"},
                                             {"-=x", "delete"},
                                             {"-id"}}) {
    const ShimCall c = Parse(args);
    EXPECT_TRUE(c.unparsed) << args[0];
    EXPECT_TRUE(c.NeedsApproval()) << args[0];
  }
}

}  // namespace
}  // namespace crigate::shim
