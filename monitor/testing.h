// Fixtures the monitor's unit tests share: the fixture trees under
// monitor/testdata (CRIGATE_MONITOR_TESTDATA, set by CMake for the tests).
#pragma once

#include <string>

#include "cgroup_mounts.h"

namespace crigate::monitor::testing {

inline const std::string kTestdata = CRIGATE_MONITOR_TESTDATA;

// A cgroup v1 host as mountinfo would show it: one hierarchy per controller
// under testdata/v1, and the empty unified hierarchy of a hybrid host.
inline CgroupMounts FixtureV1Mounts() {
  std::string text;
  int id = 100;
  for (const char* controller : {"cpu", "cpuacct", "cpuset", "memory", "pids"}) {
    text += std::to_string(id++) + " 1 0:1 / " + kTestdata + "/v1/" + controller +
            " rw - cgroup cgroup rw," + controller + "\n";
  }
  text += "200 1 0:2 / " + kTestdata + "/v1/unified rw - cgroup2 cgroup2 rw\n";
  return CgroupMounts::FromMountinfo(text);
}

}  // namespace crigate::monitor::testing
