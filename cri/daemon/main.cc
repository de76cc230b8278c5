// crigate: the gate on the CRI socket. See README.md for how to run it.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cri/daemon/daemon.h"
#include "cri/daemon/settings.h"
#include "cri/daemon/status_cli.h"
#include "cri/log.h"
#include "policy/channel/bundle_cli.h"
#include "policy/token_cli.h"

namespace crigate {
namespace {

constexpr char kUsage[] =
    "usage: crigate [--config PATH] [--check-config]\n"
    "       crigate token issue|verify|keygen ...   (crigate token --help)\n"
    "       crigate bundle sign|verify ...          (crigate bundle --help)\n"
    "       crigate status [--config PATH] [--json] (what the running daemon does)\n"
    "\n"
    "Serves the CRI on its own unix socket and forwards every call to containerd,\n"
    "stopping the gated ones at the policy pipeline first.\n"
    "  --config PATH    TOML config (default /etc/crigate/config.toml; a missing\n"
    "                   default file means all defaults)\n"
    "  --check-config   validate the config, print the result, and exit\n";

struct Args {
  std::string config_path = cri::kDefaultConfigPath;
  bool config_given = false;
  bool check_only = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      args->config_path = argv[++i];
      args->config_given = true;
    } else if (arg.rfind("--config=", 0) == 0) {
      args->config_path = std::string(arg.substr(9));
      args->config_given = true;
    } else if (arg == "--check-config") {
      args->check_only = true;
    } else {
      return false;
    }
  }
  return true;
}

// --check-config: the file, and the approval key it names.
int CheckConfig(const Args& args) {
  std::vector<std::string> errors;
  std::optional<cri::Settings> settings =
      cri::LoadSettings(args.config_path, args.config_given, errors);
  if (settings && settings->approval.enabled) {
    if (auto key = cri::LoadApprovalKey(settings->approval.key_file); !key.ok()) {
      errors.push_back("approval.key_file: " + key.error());
    }
  }
  for (const auto& e : errors) {
    (void)std::fprintf(stderr, "crigate: config %s: %s\n", args.config_path.c_str(), e.c_str());
  }
  if (!errors.empty()) return 2;
  (void)std::printf("crigate: config %s is valid\n", args.config_path.c_str());
  return 0;
}

int Run(const Args& args) {
  std::vector<std::string> errors;
  std::optional<cri::Settings> settings =
      cri::LoadSettings(args.config_path, args.config_given, errors);
  if (!settings) {
    for (const auto& e : errors) {
      (void)std::fprintf(stderr, "crigate: config %s: %s\n", args.config_path.c_str(), e.c_str());
    }
    return 2;
  }
  log::SetLevel(settings->daemon.log_level);
  log::SetFormat(settings->daemon.log_format);

  // Signals are taken by sigwait in this thread only; every thread created
  // below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  (void)signal(SIGPIPE, SIG_IGN);

  base::Result<std::unique_ptr<cri::Daemon>> built = cri::Daemon::Build(std::move(*settings));
  if (!built.ok()) {
    // An unusable approval key is the file's error, reported as --check-config would.
    if (built.error().rfind("approval.", 0) == 0) {
      (void)std::fprintf(stderr, "crigate: config %s: %s\n", args.config_path.c_str(),
                         built.error().c_str());
      return 2;
    }
    log::Error("{}", built.error());
    return 1;
  }
  std::unique_ptr<cri::Daemon> daemon = std::move(built).value();
  if (base::Status served = daemon->Serve(); !served.ok()) {
    log::Error("{}", served.message());
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      daemon->Reload();
      continue;
    }
    log::Info("{}: stopping", sigdescr_np(sig));  // strsignal is not thread-safe
    break;
  }
  daemon->Drain();
  daemon.reset();
  log::Info("crigate stopped");
  return 0;
}

}  // namespace
}  // namespace crigate

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "token") {
    return crigate::policy::RunTokenCli(argc - 1, argv + 1);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "bundle") {
    return crigate::channel::RunBundleCli(argc - 1, argv + 1);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "status") {
    return crigate::cri::RunStatusCli(argc - 1, argv + 1);
  }
  crigate::Args args;
  if (!crigate::ParseArgs(argc, argv, &args)) {
    (void)std::fputs(crigate::kUsage, stderr);
    return 2;
  }
  return args.check_only ? crigate::CheckConfig(args) : crigate::Run(args);
}
