// crigate-approval: the approval key and the spec digest by hand.
//   keygen PATH          a new key (32 random bytes, mode 0600) for install scripts
//   digest BUNDLE_DIR ID the digest an approval for container ID must carry for
//                        BUNDLE_DIR/config.json, for an operator finding out
//                        why a start was refused
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "shim/approval.h"
#include "shim/runtime_spec.h"

namespace {

using crigate::base::Status;

int Usage() {
  (void)std::fprintf(stderr,
                     "usage: crigate-approval keygen PATH\n"
                     "       crigate-approval digest BUNDLE_DIR CONTAINER_ID\n");
  return 2;
}

int Fail(const crigate::base::Status& s) {
  (void)std::fprintf(stderr, "crigate-approval: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int Run(int argc, char** argv) {
  using namespace crigate::shim;
  if (argc < 3) return Usage();
  const std::string verb = argv[1];
  if (verb == "keygen" && argc == 3) {
    if (crigate::base::Status s = CreateApprovalKey(argv[2]); !s.ok()) return Fail(s);
    return 0;
  }
  if (verb == "digest" && argc == 4) {
    nlohmann::json spec;
    if (crigate::base::Status s = ReadRuntimeSpec(std::string(argv[2]) + "/config.json", &spec);
        !s.ok()) {
      return Fail(s);
    }
    (void)std::printf("%s\n", SpecDigest(spec, argv[3]).c_str());
    return 0;
  }
  return Usage();
}

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "crigate-approval: %s\n", e.what());
    return 1;
  }
}
