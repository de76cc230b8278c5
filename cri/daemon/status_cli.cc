#include "cri/daemon/status_cli.h"

#include <fmt/format.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include "cri/daemon/config.h"
#include "cri/daemon/settings.h"
#include "cri/health.h"
#include "policy/base/files.h"

namespace crigate::cri {
namespace {

using nlohmann::json;

constexpr char kUsage[] =
    "usage: crigate status [--config PATH] [--json]\n"
    "  --config PATH  crigate's config (default /etc/crigate/config.toml): where its\n"
    "                 socket and status file are\n"
    "  --json         print the status file and the health answer as one JSON object\n"
    "Exit codes: 0 serving, 1 not serving / not running / stale, 2 usage or config.\n";

// A status file three periods old: the daemon did not write it since.
constexpr std::chrono::seconds kStaleAfter{10};

HealthAnswer AskHealth(const std::string& socket) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::Slice slice(EncodeHealthCheckRequest(""));
  grpc::ByteBuffer request(&slice, 1), response;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<grpc::Status> status;
  stub.UnaryCall(&ctx, std::string(kHealthCheckPath), grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return status.has_value(); });
  if (!status->ok()) {
    return {false, fmt::format("no answer from {}: {}", socket, status->error_message())};
  }
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  auto serving = DecodeHealthCheckResponse(bytes);
  if (!serving.ok()) return {false, serving.error()};
  switch (*serving) {
    case ServingStatus::kServing:
      return {true, "SERVING"};
    case ServingStatus::kNotServing:
      return {false, "NOT_SERVING"};
    default:
      return {false, "UNKNOWN"};
  }
}

// The object under key, or an empty one: a status file from another
// version, or cut short, is shown as far as it goes, never thrown on.
json Part(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_object()) {
    return json::object();
  }
  return object[key];
}

// The array under key, or an empty one.
json List(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_array()) {
    return json::array();
  }
  return object[key];
}

// A boolean field; false when absent or not a boolean.
bool Flag(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_boolean() &&
         object[key].get<bool>();
}

// A field's text, or "-" when the daemon did not write it.
std::string Text(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return "-";
  const json& value = object[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string Line(const char* label, const std::string& text) {
  return fmt::format("  {:<11} {}\n", label, text);
}

std::string CloudText(const json& cloud) {
  std::string out = "authorization " + Text(cloud, "authorization");
  if (const json e = Part(cloud, "events"); !e.empty()) {
    out += fmt::format("; events {} delivered, {} queued, {} dropped", Text(e, "delivered"),
                       Text(e, "queued"), Text(e, "dropped"));
    if (!Text(e, "last_error").empty() && Text(e, "last_error") != "-") {
      out += " (last error: " + Text(e, "last_error") + ")";
    }
  }
  if (const json ch = Part(cloud, "channel"); !ch.empty()) {
    out += fmt::format("; channel {} {}, spool {} waiting, {} dropped",
                       Flag(ch, "connected") ? "connected to" : "NOT connected to",
                       Text(ch, "broker"), Text(ch, "spool_depth"), Text(ch, "spool_dropped"));
    if (!Flag(ch, "connected") && !Text(ch, "last_error").empty()) {
      out += " (last error: " + Text(ch, "last_error") + ")";
    }
  } else {
    out += "; channel off";
  }
  return out;
}

int Fail(const std::string& message) {
  (void)std::fprintf(stderr, "crigate status: %s\n", message.c_str());
  return 2;
}

}  // namespace

std::string RenderStatus(const json& status, const std::string& status_path,
                         const HealthAnswer& health, const std::string& socket,
                         std::chrono::system_clock::time_point now,
                         std::chrono::seconds stale_after, bool* stale) {
  *stale = false;
  std::string out;
  const json self = Part(status, "crigate");
  out += fmt::format("crigate {}: {} (health check on {})\n", Text(self, "version"),
                     health.serving ? "SERVING" : "NOT SERVING: " + health.text, socket);
  if (!status.is_object()) {
    out +=
        fmt::format("  no status file at {}: crigate has not run with this config\n", status_path);
    return out;
  }
  const int64_t written = self.contains("written_unix") && self["written_unix"].is_number_integer()
                              ? self["written_unix"].get<int64_t>()
                              : 0;
  const int64_t age =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - written;
  const std::string state = Text(self, "state");
  std::string when = fmt::format("status written {} s ago", age);
  if (state == "serving" && age > stale_after.count()) {
    *stale = true;
    when += fmt::format(" (STALE: it is rewritten every 2 s; is pid {} hung or gone?)",
                        Text(self, "pid"));
  }
  if (state == "serving") {
    out += fmt::format("  pid {}, serving since {}; {}\n", Text(self, "pid"),
                       Text(self, "started_at"), when);
  } else {
    out += fmt::format("  pid {}, {} at {} (started {})\n", Text(self, "pid"), state,
                       Text(self, "written_at"), Text(self, "started_at"));
  }
  out += Line("config", Text(status, "config"));
  const json containerd = Part(status, "containerd");
  std::string backend = Text(containerd, "endpoint");
  if (containerd.contains("answers")) {
    backend += Flag(containerd, "answers")
                   ? ": answers (" + Text(containerd, "runtime") + ")"
                   : ": DOES NOT ANSWER (" + Text(containerd, "error") + ")";
  }
  out += Line("containerd", backend);
  const json policy = Part(status, "policy");
  std::string gated;
  for (const json& g : List(policy, "gated")) {
    gated += (gated.empty() ? "" : ", ") + (g.is_string() ? g.get<std::string>() : g.dump());
  }
  out += Line("policy", fmt::format("{}; gating {}; reloads {} ok, {} refused{}",
                                    Flag(policy, "loaded") ? "loaded" : "NOT LOADED", gated,
                                    Text(policy, "reloads_ok"), Text(policy, "reloads_refused"),
                                    policy.contains("last_reload")
                                        ? " (last: " + Text(policy, "last_reload") + ")"
                                        : ""));
  const json cloud = Part(status, "cloud");
  const json channel = Part(cloud, "channel");
  out += Line("bundle", !channel.empty() ? "version " + Text(channel, "bundle_version")
                                         : "none (the cloud channel is off)");
  out += Line("cloud", CloudText(cloud));
  const json watchdog = Part(status, "watchdog");
  out +=
      Line("watchdog", !watchdog.empty()
                           ? fmt::format("{}: {} containers, {} ticks, stops {} ok, {} failed",
                                         Flag(watchdog, "running") ? "running" : "stopped",
                                         Text(watchdog, "watched"), Text(watchdog, "ticks"),
                                         Text(watchdog, "stops_ok"), Text(watchdog, "stops_failed"))
                           : "off");
  std::string decisions;
  for (const json& d : List(policy, "decisions")) {
    decisions +=
        fmt::format("{}{} {} allowed, {} denied, {} errors", decisions.empty() ? "" : "; ",
                    Text(d, "stage"), Text(d, "allowed"), Text(d, "denied"), Text(d, "errors"));
  }
  out += Line("decisions", decisions.empty() ? "none" : decisions);
  out += Line("audit", Text(policy, "audit"));
  return out;
}

int RunStatusCli(int argc, char** argv) {
  std::string config_path = kDefaultConfigPath;
  bool config_given = false;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
      config_given = true;
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = std::string(arg.substr(9));
      config_given = true;
    } else if (arg == "--json") {
      as_json = true;
    } else {
      (void)std::fputs(kUsage, stderr);
      return 2;
    }
  }
  std::vector<std::string> errors;
  std::optional<Settings> settings = LoadSettings(config_path, config_given, errors);
  if (!settings) {
    std::string text;
    for (const auto& e : errors) text += (text.empty() ? "" : "; ") + e;
    return Fail("config " + config_path + ": " + text);
  }
  const std::string socket = settings->daemon.socket.path;
  const std::string status_path = StatusFileOf(settings->daemon);
  const HealthAnswer health = AskHealth(socket);

  json status;  // null: no file
  if (auto text = base::ReadBoundedFile(status_path); text.ok()) {
    status = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (status.is_discarded()) status = nullptr;
  }
  bool stale = false;
  const std::string rendered = RenderStatus(status, status_path, health, socket,
                                            std::chrono::system_clock::now(), kStaleAfter, &stale);
  if (as_json) {
    json out = {{"health", health.serving ? "SERVING" : health.text}, {"stale", stale}};
    out["status"] = status;
    (void)std::printf("%s\n", out.dump(2).c_str());
  } else {
    (void)std::fputs(rendered.c_str(), stdout);
  }
  return health.serving && !stale ? 0 : 1;
}

}  // namespace crigate::cri
