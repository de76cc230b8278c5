#include "test/e2e/broker.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace crigate::test {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::optional<Broker> Broker::FromEnv(std::string* why) {
  Broker b;
  b.host_ = Env("CRIGATE_BROKER_HOST");
  b.ca_ = Env("CRIGATE_BROKER_CA");
  b.pki_ = Env("CRIGATE_BROKER_PKI");
  b.prefix_ = Env("CRIGATE_BROKER_PREFIX");
  b.cloud_ = Env("CRIGATE_BROKER_CLOUD");
  b.port_ = std::atoi(Env("CRIGATE_BROKER_PORT").c_str());
  b.scripts_ = CRIGATE_SCRIPTS_DIR;
  if (b.host_.empty() || b.ca_.empty() || b.pki_.empty() || b.prefix_.empty() || b.cloud_.empty() ||
      b.port_ <= 0) {
    *why =
        "the broker's exports (CRIGATE_BROKER_*) are missing: run through scripts/test.sh, "
        "or eval \"$(scripts/broker-up.sh)\"";
    return std::nullopt;
  }
  return b;
}

std::optional<Broker> Broker::ForNode(const std::string& node, std::string* why) {
  std::optional<Broker> broker = FromEnv(why);
  if (broker && !broker->Reset(node, why)) return std::nullopt;
  return broker;
}

bool MakeBundleKey(const std::string& dir, const std::string& kid, std::string* why) {
  if (mkdir((dir + "/cloud-keys").c_str(), 0755) != 0 && errno != EEXIST) {
    *why = "cannot create " + dir + "/cloud-keys";
    return false;
  }
  Ran keygen = RunProgram(
      {CrigateBinary(), "token", "keygen", "--type", "ed25519", "--out", dir + "/" + kid});
  if (keygen.code != 0) {
    *why = "crigate token keygen failed: " + keygen.err;
    return false;
  }
  WriteFile(dir + "/cloud-keys/" + kid + ".pub", ReadFile(dir + "/" + kid + ".pub"));
  return true;
}

std::string Broker::Topic(const std::string& node, const std::string& leaf) const {
  return prefix_ + "/" + node + "/" + leaf;
}

std::vector<std::string> Broker::ClientArgs(const std::string& identity) const {
  return {"-h",       host_,
          "-p",       std::to_string(port_),
          "--cafile", ca_,
          "--cert",   pki_ + "/" + identity + ".crt",
          "--key",    pki_ + "/" + identity + ".key"};
}

Ran Broker::Publish(const std::string& identity, const std::string& topic,
                    const std::string& payload, bool retain) const {
  char tmpl[] = "/tmp/crigate-pub-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd >= 0) close(fd);
  std::ofstream(tmpl) << payload;
  std::vector<std::string> argv = {"/usr/bin/mosquitto_pub"};
  for (auto& a : ClientArgs(identity)) argv.push_back(a);
  for (std::string a : {"-q", "1", "-t"}) argv.push_back(a);
  argv.push_back(topic);
  if (payload.empty()) {
    argv.push_back("-n");
  } else {
    argv.push_back("-f");
    argv.push_back(tmpl);
  }
  if (retain) argv.push_back("-r");
  Ran ran = RunProgram(argv);
  unlink(tmpl);
  return ran;
}

bool Broker::Reset(const std::string& node, std::string* why) const {
  for (const auto& [identity, leaf] : {std::pair<std::string, const char*>{cloud_, "policy"},
                                       std::pair<std::string, const char*>{node, "status"}}) {
    Ran cleared = Publish(identity, Topic(node, leaf), "", /*retain=*/true);
    if (cleared.code != 0) {
      *why = "clearing the retained " + Topic(node, leaf) + " failed: " + cleared.err;
      return false;
    }
  }
  EndSession(node, node);
  return true;
}

void Broker::EndSession(const std::string& identity, const std::string& client_id) const {
  // A clean-session connection under the client id ends its stored session,
  // and with it whatever was queued for it.
  std::vector<std::string> argv = {"/usr/bin/mosquitto_pub"};
  for (auto& a : ClientArgs(identity)) argv.push_back(a);
  for (std::string a : {"-i", client_id.c_str(), "-t", "crigate-e2e/none", "-n"}) argv.push_back(a);
  RunProgram(argv);
}

bool Broker::Stop() const {
  return RunProgram({"/bin/bash", scripts_ + "/broker-down.sh"}).code == 0;
}

bool Broker::Start() const {
  return RunProgram({"/bin/bash", scripts_ + "/broker-up.sh"}, std::chrono::seconds(30)).code == 0;
}

std::string Broker::ChannelSection(const std::string& node, const std::string& bundle_keys,
                                   const std::string& state_dir,
                                   const std::string& token_keys_dir) const {
  return fmt::format(R"([channel]
enabled = true
host = "{}"
port = {}
ca_file = "{}"
cert_file = "{}/{}.crt"
key_file = "{}/{}.key"
prefix = "{}"
reconnect_min_ms = 100
reconnect_max_ms = 500
bundle_keys = ["{}"]
state_dir = "{}"
token_keys_dir = "{}"
)",
                     host_, port_, ca_, pki_, node, pki_, node, prefix_, bundle_keys, state_dir,
                     token_keys_dir);
}

Subscriber::Subscriber(const Broker& broker, const std::string& identity,
                       const std::string& client_id, const std::vector<std::string>& topics,
                       bool clean) {
  std::string dir = ScratchDir();
  out_ = dir + "/sub.out";
  err_ = dir + "/sub.err";
  std::vector<std::string> argv = {"/usr/bin/mosquitto_sub"};
  for (auto& a : broker.ClientArgs(identity)) argv.push_back(a);
  for (std::string a : {"-q", "1", "-v", "-i"}) argv.push_back(a);
  argv.push_back(client_id);
  if (!clean) argv.push_back("-c");
  for (const auto& t : topics) {
    argv.push_back("-t");
    argv.push_back(t);
  }
  pid_ = SpawnChild(argv, out_, err_);
}

Subscriber::~Subscriber() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::vector<std::pair<std::string, std::string>> Subscriber::Messages() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(ReadFile(out_));
  for (std::string line; std::getline(lines, line);) {
    size_t space = line.find(' ');
    if (space == std::string::npos) {
      out.emplace_back(line, "");
    } else {
      out.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
  }
  return out;
}

size_t Subscriber::Count(const std::string& topic, const std::string& needle) const {
  size_t n = 0;
  for (const auto& [t, payload] : Messages()) {
    if (t == topic && payload.find(needle) != std::string::npos) ++n;
  }
  return n;
}

bool Subscriber::WaitFor(const std::string& topic, const std::string& needle, size_t count,
                         std::chrono::milliseconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (Count(topic, needle) >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Count(topic, needle) >= count;
}

std::string Subscriber::Log() const { return ReadFile(err_); }

}  // namespace crigate::test
