// What the wrapper adds to a task start: runs N approved `start`s of the
// built containerd-shim-crigate-v2 (each on a fresh approval record, in its
// own bundle) with a trivial program in place of the runc shim, and compares
// with running that program directly and with the runc shim's own minimum
// (its Go runtime starting up to print its version). Then the same `-v`
// through the wrapper with the runc shim installed without execute
// permission, i.e. run from a private copy (what closes `--runtime <path>`).
//
// Usage (as root): shim_start_bench [N] [runc shim] [wrapper]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shim/approval_store.h"
#include "shim/runtime_spec.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Cost {
  double wall_us;
  double cpu_us;  // user + system of the child: what the machine's load does not inflate
};

// Runs argv in cwd with stdout/stderr to /dev/null.
Cost TimeRun(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);  // the child's freopen would flush a copy of the buffer
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(126);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    freopen("/dev/null", "r", stdin);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  const double cpu =
      (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s exited with status %d\n", args[0].c_str(), status);
    std::exit(1);
  }
  return {us, cpu};
}

struct Stats {
  double median, p90;
};
Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() * 9 / 10]};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace crigate::shim;
  const int n = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::string runc = argc > 2 ? argv[2] : "/usr/bin/containerd-shim-runc-v2";
  const std::string wrapper = argc > 3 ? argv[3] : CRIGATE_SHIM_BINARY;
  char tmpl[] = "/tmp/crigate-start-bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const std::string key_path = dir + "/key";
  ApprovalKey key;
  if (!CreateApprovalKey(key_path).ok() || !LoadApprovalKey(key_path, &key, geteuid()).ok()) {
    std::fprintf(stderr, "cannot create a key in %s\n", dir.c_str());
    return 1;
  }
  // A spec of realistic size (containerd's sandbox specs are ~5-10 KiB).
  std::string filler;
  for (int i = 0; i < 60; ++i)
    filler += R"({"destination":"/m)" + std::to_string(i) +
              R"(","type":"bind","source":"/x","options":["rbind","ro"]},)";
  filler.pop_back();
  std::vector<std::string> bundles;
  const std::string approvals = dir + "/approvals";
  for (int i = 0; i < n; ++i) {
    const std::string b = dir + "/b" + std::to_string(i);
    mkdir(b.c_str(), 0700);
    const std::string text =
        R"({"ociVersion":"1.0.2","process":{"args":["/app"]},"root":{"path":"rootfs"},"mounts":[)" +
        filler + R"(],"annotations":{"io.kubernetes.cri.container-type":"container"}})";
    std::ofstream(b + "/config.json") << text;
    bundles.push_back(b);
  }
  setenv("CRIGATE_SHIM_KEY", key_path.c_str(), 1);
  setenv("CRIGATE_SHIM_APPROVAL_DIR", approvals.c_str(), 1);
  setenv("CRIGATE_SHIM_EXEC_DIR", (dir + "/exec").c_str(), 1);
  setenv("CRIGATE_SHIM_RUNTIME", "/bin/true", 1);
  auto approve = [&](int i) {
    nlohmann::json spec;
    std::ifstream in(bundles[i] + "/config.json");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!ParseRuntimeSpec(text, &spec).ok()) std::exit(1);
    ApprovalRecord r;
    r.kind = ApprovalKind::kContainer;
    r.container_id = "x" + std::to_string(i);
    r.spec_digest = SpecDigest(spec, r.container_id);
    r.expires_unix = time(nullptr) + 3600;
    if (!WriteApproval(approvals, key, r).ok()) std::exit(1);
  };

  auto start_args = [](int i) {
    return std::vector<std::string>{"-namespace",
                                    "k8s.io",
                                    "-address",
                                    "/a",
                                    "-publish-binary",
                                    "/c",
                                    "-id",
                                    "x" + std::to_string(i),
                                    "start"};
  };
  std::vector<double> direct, wrapped, runc_version, direct_cpu, wrapped_cpu, runc_cpu;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> a = {"/bin/true"};
    const std::vector<std::string> args = start_args(i);
    a.insert(a.end(), args.begin(), args.end());
    approve(i);
    Cost c = TimeRun(a, bundles[i]);
    direct.push_back(c.wall_us);
    direct_cpu.push_back(c.cpu_us);
    a[0] = wrapper;
    c = TimeRun(a, bundles[i]);
    wrapped.push_back(c.wall_us);
    wrapped_cpu.push_back(c.cpu_us);
    if (i < 50) {
      c = TimeRun({runc, "-v"}, bundles[i]);
      runc_version.push_back(c.wall_us);
      runc_cpu.push_back(c.cpu_us);
    }
  }
  const Stats d = Summarise(direct), w = Summarise(wrapped), r = Summarise(runc_version);
  const Stats dc = Summarise(direct_cpu), wc = Summarise(wrapped_cpu), rc = Summarise(runc_cpu);
  std::printf(
      "runs: %d (bundle spec %zu bytes)\n", n,
      static_cast<size_t>(std::ifstream(bundles[0] + "/config.json", std::ios::ate).tellg()));
  std::printf("/bin/true directly:                   median %7.0f us  p90 %7.0f us\n", d.median,
              d.p90);
  std::printf("wrapper verifying, then /bin/true:     median %7.0f us  p90 %7.0f us\n", w.median,
              w.p90);
  std::printf("added by the wrapper:                 median %7.0f us\n", w.median - d.median);
  std::printf("runc shim's own floor (`-v`):          median %7.0f us  p90 %7.0f us\n", r.median,
              r.p90);
  std::printf(
      "cpu (user+sys) medians: /bin/true %.0f us, wrapper+/bin/true %.0f us (added %.0f us), "
      "runc shim -v %.0f us\n",
      dc.median, wc.median, wc.median - dc.median, rc.median);
  // The private copy: the runc shim without execute permission.
  const std::string hidden = dir + "/runc-shim-0600";
  if (std::system(("install -m 0600 '" + runc + "' '" + hidden + "'").c_str()) == 0) {
    setenv("CRIGATE_SHIM_RUNTIME", hidden.c_str(), 1);
    std::vector<double> copied;
    for (int i = 0; i < std::min(n, 50); ++i)
      copied.push_back(TimeRun({wrapper, "-v"}, dir).wall_us);
    const Stats c = Summarise(copied);
    std::printf(
        "wrapper -> private copy of the runc shim -v: median %7.0f us  p90 %7.0f us "
        "(added %.0f us)\n",
        c.median, c.p90, c.median - r.median);
  }
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
