// Makes one CRI call as another user, for tests that need a second caller
// identity: drops to --uid/--gid before it opens the connection, then prints
// "<status code> <message>" and exits 0 (1 on bad usage or failed setuid).
//   cri_probe --socket PATH --uid N --gid N version|remove-image IMAGE
//   cri_probe --socket PATH --uid N --gid N raw METHOD_PATH HEX_REQUEST_BYTES
//   cri_probe --socket PATH --uid N --gid N health [SERVICE]
#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "test/cri_client.h"

int main(int argc, char** argv) {
  std::string socket, verb, arg, arg2;
  long uid = -1, gid = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc)
      socket = argv[++i];
    else if (a == "--uid" && i + 1 < argc)
      uid = std::stol(argv[++i]);
    else if (a == "--gid" && i + 1 < argc)
      gid = std::stol(argv[++i]);
    else if (verb.empty())
      verb = a;
    else if (arg.empty())
      arg = a;
    else
      arg2 = a;
  }
  if (socket.empty() || verb.empty()) {
    std::fprintf(stderr,
                 "usage: cri_probe --socket PATH [--uid N --gid N] version|remove-image IMAGE\n");
    return 1;
  }
  if (gid >= 0 && (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(gid)) != 0)) {
    std::perror("setgid");
    return 1;
  }
  if (uid >= 0 && setuid(static_cast<uid_t>(uid)) != 0) {
    std::perror("setuid");
    return 1;
  }
  crigate::test::CriClient cri(socket, std::chrono::seconds(10));
  grpc::Status status;
  if (verb == "version") {
    runtime::v1::VersionResponse v;
    status = cri.Version(&v);
  } else if (verb == "remove-image") {
    status = cri.RemoveImage(arg);
  } else if (verb == "health") {
    // grpc.health.v1.HealthCheckRequest{service = arg}, encoded here, not
    // with crigate's own encoder; prints SERVING/NOT_SERVING on OK.
    std::string request;
    if (!arg.empty()) {
      request.push_back(0x0a);
      request.push_back(static_cast<char>(arg.size()));
      request += arg;
    }
    std::string answer;
    status = cri.RawCall("/grpc.health.v1.Health/Check", request, &answer);
    if (status.ok()) {
      const char* name = answer == std::string("\x08\x01", 2)   ? "SERVING"
                         : answer == std::string("\x08\x02", 2) ? "NOT_SERVING"
                                                                : "UNEXPECTED_ANSWER";
      std::printf("0 %s\n", name);
      return 0;
    }
  } else if (verb == "raw") {
    std::string bytes, answer;
    for (size_t i = 0; i + 1 < arg2.size(); i += 2) {
      bytes.push_back(static_cast<char>(std::stoi(arg2.substr(i, 2), nullptr, 16)));
    }
    status = cri.RawCall(arg, bytes, &answer);
  } else {
    std::fprintf(stderr, "cri_probe: unknown verb %s\n", verb.c_str());
    return 1;
  }
  std::printf("%d %s\n", static_cast<int>(status.error_code()), status.error_message().c_str());
  return 0;
}
