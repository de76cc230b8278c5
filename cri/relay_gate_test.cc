#include "cri/relay_gate.h"

#include <gtest/gtest.h>

namespace crigate::cri {
namespace {

TEST(UnixSocketPath, BothSpellingsOfAnAbsolutePath) {
  EXPECT_EQ(*UnixSocketPath("unix:///run/containerd/containerd.sock"),
            "/run/containerd/containerd.sock");
  EXPECT_EQ(*UnixSocketPath("unix:/run/containerd/containerd.sock"),
            "/run/containerd/containerd.sock");
}

TEST(UnixSocketPath, AnythingElseIsRefusedNamingIt) {
  for (const char* endpoint : {"unix:relative.sock", "unix://", "tcp://127.0.0.1:1", ""}) {
    auto path = UnixSocketPath(endpoint);
    EXPECT_EQ(path.code(), base::Code::INVALID_ARGUMENT) << endpoint;
  }
  EXPECT_NE(UnixSocketPath("tcp://127.0.0.1:1").error().find("\"tcp://127.0.0.1:1\""),
            std::string::npos);
}

}  // namespace
}  // namespace crigate::cri
