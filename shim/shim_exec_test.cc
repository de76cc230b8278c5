// Runs the built containerd-shim-crigate-v2 the way containerd does (argv,
// cwd = bundle, runtime options on stdin, output read as one stream) with a
// fake "runc shim" script in place of containerd-shim-runc-v2 that records
// what it was given.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "shim/approval.h"

namespace crigate::shim {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const std::string kSandboxId(64, 'f');
// What containerd puts on stdin: the marshalled runtime options (binary).
const std::string kStdin("\x0a\x1frunc\x00options\xff\x01", 17);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitNul(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

struct ShimRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr, as containerd's CombinedOutput reads them
};

class ShimExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the shim requires a root-owned key: run as root";
    char tmpl[] = "/tmp/crigate-shim-exec.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bundle_ = dir_ + "/bundle dir";  // a space, to check cwd is kept verbatim
    ASSERT_EQ(mkdir(bundle_.c_str(), 0700), 0);
    key_path_ = dir_ + "/approval.key";
    ASSERT_TRUE(CreateApprovalKey(key_path_).ok());
    ASSERT_TRUE(LoadApprovalKey(key_path_, &key_).ok());
    record_ = dir_ + "/record";
    fake_ = dir_ + "/fake-runc-shim";
    std::ofstream(fake_) << "#!/bin/sh\n"
                            "printf '%s\\0' \"$0\" \"$@\" >\"$FAKE_RECORD.argv\"\n"
                            "pwd -P >\"$FAKE_RECORD.cwd\"\n"
                            "env >\"$FAKE_RECORD.env\"\n"
                            "cat >\"$FAKE_RECORD.stdin\"\n"
                            "printf 'unix:///run/containerd/s/fake'\n";
    chmod(fake_.c_str(), 0755);
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  void WriteSpec(const std::map<std::string, std::string>& annotations) {
    std::string json = R"({"ociVersion":"1.0.2","process":{"args":["/pause"]},"annotations":{)";
    bool first = true;
    for (const auto& [k, v] : annotations) {
      if (!first) json += ",";
      first = false;
      json += "\"" + k + "\":\"" + v + "\"";
    }
    json += "}}";
    std::ofstream(bundle_ + "/config.json", std::ios::trunc) << json;
  }

  static std::map<std::string, std::string> SandboxAnnotations(const std::string& approval) {
    std::map<std::string, std::string> a = {
        {"io.kubernetes.cri.container-type", "sandbox"},
        {"io.kubernetes.cri.sandbox-id", kSandboxId},
        {"io.kubernetes.cri.sandbox-namespace", "default"},
        {"io.kubernetes.cri.sandbox-name", "web"},
        {"io.kubernetes.cri.sandbox-uid", "uid-1"},
        {"io.kubernetes.cri.sandbox-log-directory", "/var/log/pods/x"}};
    if (!approval.empty()) a["crigate.io/approval"] = approval;
    return a;
  }
  static std::map<std::string, std::string> ContainerAnnotations(const std::string& approval,
                                                                 const std::string& name) {
    std::map<std::string, std::string> a = SandboxAnnotations(approval);
    a["io.kubernetes.cri.container-type"] = "container";
    a["io.kubernetes.cri.container-name"] = name;
    a["io.kubernetes.cri.image-name"] = "docker.io/library/busybox:1.35";
    return a;
  }

  std::string Mint(const ApprovalFields& f, system_clock::time_point now = system_clock::now(),
                   seconds ttl = seconds(60)) {
    std::string token;
    EXPECT_TRUE(MintApproval(key_, f, ttl, &token, now).ok());
    return token;
  }
  static ApprovalFields PodFields() { return SandboxApprovalFields("default", "web", "uid-1"); }
  static ApprovalFields ContainerFields(const std::string& name) {
    return ContainerApprovalFields("default", "web", "uid-1", kSandboxId, name,
                                   "docker.io/library/busybox:1.35");
  }

  static std::vector<std::string> StartArgs() {
    return {"-namespace",
            "k8s.io",
            "-address",
            "/run/containerd/containerd.sock",
            "-publish-binary",
            "/usr/bin/containerd",
            "-id",
            "task 1",
            "start"};
  }

  ShimRun RunShim(const std::vector<std::string>& args, const std::string& key_path = "",
                  const std::string& runtime = "") {
    const std::string key = key_path.empty() ? key_path_ : key_path;
    const std::string rt = runtime.empty() ? fake_ : runtime;
    int in_pipe[2];
    int out_pipe[2];
    EXPECT_EQ(pipe(in_pipe), 0);
    EXPECT_EQ(pipe(out_pipe), 0);
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(out_pipe[1], 2);
      close(in_pipe[1]);
      close(out_pipe[0]);
      if (chdir(bundle_.c_str()) != 0) _exit(126);
      setenv("CRIGATE_SHIM_RUNTIME", rt.c_str(), 1);
      setenv("CRIGATE_SHIM_KEY", key.c_str(), 1);
      setenv("CRIGATE_SHIM_STATE_DIR", (dir_ + "/state").c_str(), 1);
      setenv("FAKE_RECORD", record_.c_str(), 1);
      setenv("GOMAXPROCS", "2", 1);
      setenv("TTRPC_ADDRESS", "/run/containerd/containerd.sock.ttrpc", 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>("containerd-shim-crigate-v2"));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(CRIGATE_SHIM_BINARY, argv.data());
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    // Like containerd: the options are written whether or not they are read.
    signal(SIGPIPE, SIG_IGN);
    (void)!write(in_pipe[1], kStdin.data(), kStdin.size());
    close(in_pipe[1]);
    ShimRun run;
    char buf[4096];
    ssize_t n;
    while ((n = read(out_pipe[0], buf, sizeof(buf))) > 0) run.output.append(buf, n);
    close(out_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  bool FakeRan() { return access((record_ + ".argv").c_str(), F_OK) == 0; }

  void ExpectRefused(const ShimRun& run, const std::string& reason_start) {
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_EQ(run.output.rfind("crigate refused the start: " + reason_start, 0), 0u) << run.output;
    EXPECT_EQ(run.output.find('\n'), std::string::npos) << "one line: " << run.output;
    EXPECT_FALSE(FakeRan());
  }

  std::string dir_;
  std::string bundle_;
  std::string key_path_;
  std::string record_;
  std::string fake_;
  ApprovalKey key_;
};

TEST_F(ShimExecTest, ApprovedStartBecomesTheRuncShimWithEverythingPreserved) {
  WriteSpec(SandboxAnnotations(Mint(PodFields())));
  const ShimRun run = RunShim(StartArgs());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "unix:///run/containerd/s/fake");

  std::vector<std::string> expected_argv = StartArgs();
  expected_argv.insert(expected_argv.begin(), fake_);
  EXPECT_EQ(SplitNul(ReadFile(record_ + ".argv")), expected_argv);
  EXPECT_EQ(ReadFile(record_ + ".cwd"), bundle_ + "\n");
  EXPECT_EQ(ReadFile(record_ + ".stdin"), kStdin);
  const std::string env = ReadFile(record_ + ".env");
  EXPECT_NE(env.find("GOMAXPROCS=2\n"), std::string::npos);
  EXPECT_NE(env.find("TTRPC_ADDRESS=/run/containerd/containerd.sock.ttrpc\n"), std::string::npos);
}

TEST_F(ShimExecTest, ApprovedContainerStarts) {
  WriteSpec(ContainerAnnotations(Mint(ContainerFields("app")), "app"));
  const ShimRun run = RunShim(StartArgs());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(FakeRan());
}

TEST_F(ShimExecTest, StartWithoutApprovalIsRefused) {
  WriteSpec(SandboxAnnotations(""));
  ExpectRefused(RunShim(StartArgs()),
                "no crigate.io/approval annotation: not started through crigate");
}

TEST_F(ShimExecTest, ExpiredApprovalIsRefused) {
  WriteSpec(SandboxAnnotations(Mint(PodFields(), system_clock::now() - seconds(120))));
  ExpectRefused(RunShim(StartArgs()), "approval expired at ");
}

TEST_F(ShimExecTest, ApprovalCopiedFromAnotherContainerIsRefused) {
  WriteSpec(ContainerAnnotations(Mint(ContainerFields("app")), "evil"));
  ExpectRefused(RunShim(StartArgs()),
                "approval signature does not match container default/web/evil");
}

TEST_F(ShimExecTest, PodApprovalOnAContainerIsRefused) {
  // The pod's approval passes into a container spec when the container's
  // own request carried none.
  WriteSpec(ContainerAnnotations(Mint(PodFields()), "app"));
  ExpectRefused(RunShim(StartArgs()), "approval was issued for a sandbox");
}

TEST_F(ShimExecTest, BadSignatureIsRefused) {
  ApprovalKey other(std::string(32, 'x'));
  std::string token;
  ASSERT_TRUE(MintApproval(other, PodFields(), seconds(60), &token).ok());
  WriteSpec(SandboxAnnotations(token));
  ExpectRefused(RunShim(StartArgs()), "approval signature does not match sandbox default/web");
}

TEST_F(ShimExecTest, AnApprovalStartsOneTask) {
  WriteSpec(SandboxAnnotations(Mint(PodFields())));
  ASSERT_EQ(RunShim(StartArgs()).exit_code, 0);
  unlink((record_ + ".argv").c_str());
  ExpectRefused(RunShim(StartArgs()), "approval was already used to start a task");
}

TEST_F(ShimExecTest, FailsClosedWithoutAUsableKey) {
  WriteSpec(SandboxAnnotations(Mint(PodFields())));
  ExpectRefused(RunShim(StartArgs(), dir_ + "/missing.key"), "cannot open approval key");
  chmod(key_path_.c_str(), 0644);
  ExpectRefused(RunShim(StartArgs()), "approval key " + key_path_ + " has mode 0644");
}

TEST_F(ShimExecTest, UnreadableSpecIsRefused) {
  ExpectRefused(RunShim(StartArgs()), "cannot open config.json");
}

TEST_F(ShimExecTest, DeletePassesThroughUnconditionally) {
  // No config.json, no key: delete must still reach the runc shim.
  const std::vector<std::string> args = {"-namespace",      "k8s.io", "-address", "/a",
                                         "-publish-binary", "/c",     "-id",      "t1",
                                         "-bundle",         bundle_,  "delete"};
  const ShimRun run = RunShim(args, dir_ + "/missing.key");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::vector<std::string> expected = args;
  expected.insert(expected.begin(), fake_);
  EXPECT_EQ(SplitNul(ReadFile(record_ + ".argv")), expected);
  EXPECT_EQ(ReadFile(record_ + ".stdin"), kStdin);
}

TEST_F(ShimExecTest, ServePassesThrough) {
  const ShimRun run =
      RunShim({"-namespace", "k8s.io", "-id", "t1", "-address", "/a"}, dir_ + "/missing.key");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(FakeRan());
}

TEST_F(ShimExecTest, UnparsableArgumentsAreCheckedLikeAStart) {
  WriteSpec(SandboxAnnotations(""));
  ExpectRefused(RunShim({"-namespace", "k8s.io", "-newflag", "x", "delete"}),
                "no crigate.io/approval annotation");
}

TEST_F(ShimExecTest, MissingRuncShimFails) {
  const ShimRun run = RunShim({"-id", "t1", "delete"}, "", dir_ + "/no-such-shim");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("cannot exec " + dir_ + "/no-such-shim"), std::string::npos);
}

TEST_F(ShimExecTest, RefusesToExecItself) {
  const ShimRun run = RunShim({"-id", "t1", "delete"}, "", CRIGATE_SHIM_BINARY);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("is this wrapper itself"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace crigate::shim
