// crigate-approval: the approval key and approvals by hand, for install
// scripts, tests and an operator checking why a start was refused.
//
//   crigate-approval keygen PATH
//   crigate-approval mint KEY sandbox NAMESPACE POD UID [TTL_SECONDS]
//   crigate-approval mint KEY container NAMESPACE POD UID SANDBOX_ID NAME IMAGE [TTL_SECONDS]
//   crigate-approval check KEY BUNDLE_DIR     (verifies BUNDLE_DIR/config.json as the
//                                             shim would, without using the approval up)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "shim/approval.h"
#include "shim/spec_annotations.h"

namespace {

using crigate::shim::ApprovalStatus;

int Usage() {
  std::fprintf(stderr,
               "usage: crigate-approval keygen PATH\n"
               "       crigate-approval mint KEY sandbox NAMESPACE POD UID [TTL_SECONDS]\n"
               "       crigate-approval mint KEY container NAMESPACE POD UID SANDBOX_ID NAME "
               "IMAGE [TTL_SECONDS]\n"
               "       crigate-approval check KEY BUNDLE_DIR\n");
  return 2;
}

int Fail(const ApprovalStatus& s) {
  std::fprintf(stderr, "crigate-approval: %s\n", s.reason().c_str());
  return 1;
}

bool ParseTtl(const char* text, std::chrono::seconds* ttl) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0) return false;
  *ttl = std::chrono::seconds(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace crigate::shim;
  if (argc < 3) return Usage();
  const std::string verb = argv[1];
  if (verb == "keygen" && argc == 3) {
    if (ApprovalStatus s = CreateApprovalKey(argv[2]); !s.ok()) return Fail(s);
    return 0;
  }
  if (argc < 4) return Usage();
  ApprovalKey key;
  if (ApprovalStatus s = LoadApprovalKey(argv[2], &key, geteuid()); !s.ok()) return Fail(s);
  if (verb == "check" && argc == 4) {
    std::map<std::string, std::string> annotations;
    ApprovalFields fields;
    std::string token;
    ApprovalStatus s = ReadSpecAnnotations(std::string(argv[3]) + "/config.json", &annotations);
    if (s.ok()) s = ApprovalFromSpecAnnotations(annotations, &fields, &token);
    if (s.ok()) s = VerifyApproval(key, fields, token, std::chrono::system_clock::now());
    if (!s.ok()) return Fail(s);
    std::printf("approved: %s\n", DescribeApprovalFields(fields).c_str());
    return 0;
  }
  if (verb != "mint") return Usage();
  const std::string kind = argv[3];
  ApprovalFields fields;
  int next = 0;
  if (kind == "sandbox" && (argc == 7 || argc == 8)) {
    fields = SandboxApprovalFields(argv[4], argv[5], argv[6]);
    next = 7;
  } else if (kind == "container" && (argc == 10 || argc == 11)) {
    fields = ContainerApprovalFields(argv[4], argv[5], argv[6], argv[7], argv[8], argv[9]);
    next = 10;
  } else {
    return Usage();
  }
  std::chrono::seconds ttl = kDefaultApprovalTtl;
  if (next < argc && !ParseTtl(argv[next], &ttl)) return Usage();
  std::string token;
  if (ApprovalStatus s = MintApproval(key, fields, ttl, &token); !s.ok()) return Fail(s);
  std::printf("%s\n", token.c_str());
  return 0;
}
