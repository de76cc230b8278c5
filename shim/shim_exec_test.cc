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
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "shim/approval_store.h"
#include "shim/runtime_spec.h"

namespace crigate::shim {
namespace {

constexpr char kTaskId[] = "t1";
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
    approvals_ = dir_ + "/approvals";
    exec_dir_ = dir_ + "/var/lib/crigate/shim-exec";  // parents missing, as on a fresh node
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

  // A spec as containerd's CRI writes it, for a sandbox or a container.
  nlohmann::json Spec(const std::string& type) {
    nlohmann::json spec = nlohmann::json::parse(R"({
      "ociVersion": "1.0.2-dev",
      "process": {"args": ["/pause"], "cwd": "/",
                  "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}},
      "root": {"path": "rootfs", "readonly": true},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
      "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                               {"type": "mount"}, {"type": "network"}]},
      "annotations": {"io.kubernetes.cri.sandbox-namespace": "default",
                      "io.kubernetes.cri.sandbox-name": "web",
                      "io.kubernetes.cri.sandbox-uid": "uid-1"}})");
    spec["annotations"]["io.kubernetes.cri.container-type"] = type;
    return spec;
  }
  void WriteSpec(const nlohmann::json& spec) {
    std::ofstream(bundle_ + "/config.json", std::ios::trunc) << spec.dump(2);
  }
  void ApproveContainer(const nlohmann::json& spec, const std::string& id = kTaskId,
                        int64_t ttl = 60) {
    ApprovalRecord r;
    r.kind = ApprovalKind::kContainer;
    r.container_id = id;
    r.spec_digest = SpecDigest(spec, id);
    r.expires_unix = time(nullptr) + ttl;
    const base::Status s = WriteApproval(approvals_, key_, r);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void ApproveSandbox(std::vector<std::string> args = {"/pause"}) {
    ApprovalRecord r;
    r.kind = ApprovalKind::kSandbox;
    r.sandbox.pod_namespace = "default";
    r.sandbox.pod_name = "web";
    r.sandbox.pod_uid = "uid-1";
    r.sandbox.args = std::move(args);
    r.sandbox.containerd_dirs = {"/var/lib/containerd/cri"};
    r.expires_unix = time(nullptr) + 60;
    const base::Status s = WriteApproval(approvals_, key_, r);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  static std::vector<std::string> StartArgs() {
    return {"-namespace",
            "k8s.io",
            "-address",
            "/run/containerd/containerd.sock",
            "-publish-binary",
            "/usr/bin/containerd",
            "-id",
            kTaskId,
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
      setenv("CRIGATE_SHIM_APPROVAL_DIR", approvals_.c_str(), 1);
      setenv("CRIGATE_SHIM_EXEC_DIR", exec_dir_.c_str(), 1);
      setenv("FAKE_RECORD", record_.c_str(), 1);
      setenv("GOMAXPROCS", "2", 1);
      setenv("TTRPC_ADDRESS", "/run/containerd/containerd.sock.ttrpc", 1);
      // A cross-built shim runs under qemu-user (CRIGATE_SHIM_EMULATOR),
      // with argv[0] set by its -0 as containerd would set it.
      const char* const emulator = CRIGATE_SHIM_EMULATOR;
      const bool emulated = emulator[0] != '\0';
      std::vector<char*> argv;
      if (emulated) {
        argv.push_back(const_cast<char*>(emulator));
        argv.push_back(const_cast<char*>("-0"));
      }
      argv.push_back(const_cast<char*>("containerd-shim-crigate-v2"));
      if (emulated) argv.push_back(const_cast<char*>(CRIGATE_SHIM_BINARY));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(emulated ? emulator : CRIGATE_SHIM_BINARY, argv.data());
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
  std::string approvals_;
  std::string exec_dir_;
  ApprovalKey key_;
};

TEST_F(ShimExecTest, ApprovedSandboxBecomesTheRuncShimWithEverythingPreserved) {
  WriteSpec(Spec("sandbox"));
  ApproveSandbox();
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
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec);
  const ShimRun run = RunShim(StartArgs());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(FakeRan());
}

TEST_F(ShimExecTest, StartWithoutApprovalIsRefused) {
  WriteSpec(Spec("container"));
  ExpectRefused(RunShim(StartArgs()), "container t1: no approval: crigate did not allow");
}

TEST_F(ShimExecTest, ContainerWithAnotherSpecIsRefused) {
  // B3: the approval of a container crigate judged, on a spec that runs
  // something else.
  nlohmann::json spec = Spec("container");
  ApproveContainer(spec);
  spec["process"]["args"] = {"sh", "-c", "cat /host/etc/shadow"};
  spec["mounts"].push_back({{"destination", "/host"}, {"type", "bind"}, {"source", "/"}});
  WriteSpec(spec);
  ExpectRefused(RunShim(StartArgs()), "container t1: its runtime spec (sha256:");
}

TEST_F(ShimExecTest, ApprovalOfAnotherContainerIsRefused) {
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec, "t2");
  ExpectRefused(RunShim(StartArgs()), "container t1: no approval");
}

TEST_F(ShimExecTest, TaskNotCreatedByCriIsRefused) {
  nlohmann::json spec = Spec("container");
  spec["annotations"].erase("io.kubernetes.cri.container-type");
  WriteSpec(spec);
  ExpectRefused(RunShim(StartArgs()), "task t1 is not a pod or container");
}

TEST_F(ShimExecTest, SandboxOutsideItsApprovedShapeIsRefused) {
  nlohmann::json spec = Spec("sandbox");
  spec["process"]["args"] = {"/bin/sh"};
  WriteSpec(spec);
  ApproveSandbox();
  ExpectRefused(RunShim(StartArgs()), "sandbox t1 of pod default/web: process.args");
}

TEST_F(ShimExecTest, AnApprovalForAnotherContainerdNamespaceIsRefused) {
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec);  // for k8s.io, CRI's namespace
  std::vector<std::string> args = StartArgs();
  args[1] = "default";  // -namespace default: a same-named task elsewhere
  ExpectRefused(RunShim(args),
                "container t1 in containerd namespace \"default\": the approval is for namespace "
                "\"k8s.io\"");
}

TEST_F(ShimExecTest, AnApprovalStartsOneTask) {
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec);
  ASSERT_EQ(RunShim(StartArgs()).exit_code, 0);
  unlink((record_ + ".argv").c_str());
  ExpectRefused(RunShim(StartArgs()), "container t1: no approval");
}

TEST_F(ShimExecTest, ExpiredApprovalIsRefused) {
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec, kTaskId, -1);
  ExpectRefused(RunShim(StartArgs()), "container t1: approval c-t1 expired");
}

TEST_F(ShimExecTest, FailsClosedWithoutAUsableKey) {
  const nlohmann::json spec = Spec("container");
  WriteSpec(spec);
  ApproveContainer(spec);
  ExpectRefused(RunShim(StartArgs(), dir_ + "/missing.key"), "approval key: cannot read");
  ApproveContainer(spec);
  chmod(key_path_.c_str(), 0644);
  ExpectRefused(RunShim(StartArgs()), "approval key: " + key_path_ + " has mode 0644");
}

TEST_F(ShimExecTest, UnreadableSpecIsRefused) {
  ExpectRefused(RunShim(StartArgs()), "cannot read config.json");
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
  WriteSpec(Spec("container"));
  ExpectRefused(RunShim({"-namespace", "k8s.io", "-id", "t1", "-newflag", "x", "delete"}),
                "container t1: no approval");
}

TEST_F(ShimExecTest, ANonExecutableRuncShimRunsFromAPrivateCopyThatIsThenRemoved) {
  // The real shim installed 0600: containerd cannot exec it by its path, the
  // wrapper runs a copy of it.
  ASSERT_EQ(chmod(fake_.c_str(), 0600), 0);
  const ShimRun run = RunShim({"-id", "t1", "delete"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> argv = SplitNul(ReadFile(record_ + ".argv"));
  ASSERT_FALSE(argv.empty());
  EXPECT_EQ(argv[0].rfind(exec_dir_ + "/", 0), 0u) << argv[0];
  struct stat st {};
  ASSERT_EQ(stat(exec_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // The cleaner unlinks the copy once the call's process has exited; give
  // it up to 10 s on a loaded machine (this checks that it happens, not how
  // fast).
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {
    gone = access(argv[0].c_str(), F_OK) != 0;
    if (!gone) usleep(10000);
  }
  EXPECT_TRUE(gone) << argv[0] << " was not removed";
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
