#include "cri/daemon/status_cli.h"

#include <gtest/gtest.h>

namespace crigate::cri {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::chrono::system_clock::time_point kNow{seconds(1'800'000'000)};

json Written(int64_t seconds_ago, const std::string& state = "serving") {
  return json::parse(R"({
    "crigate": {"version": "0.1.0", "pid": 4242, "state": "serving",
                "started_at": "2027-01-15T08:00:00Z", "written_at": "2027-01-15T10:00:00Z",
                "written_unix": 0},
    "config": "/etc/crigate/config.toml",
    "socket": "/run/crigate/crigate.sock",
    "containerd": {"endpoint": "unix:///run/containerd/containerd.sock", "answers": false,
                   "error": "containerd Version failed: connection refused"},
    "policy": {"loaded": true, "gated": ["CreateContainer", "RunPodSandbox"],
               "audit": "/var/log/crigate/audit.jsonl", "reloads_ok": 2, "reloads_refused": 1,
               "last_reload": "SIGHUP at 2027-01-15T09:00:00Z: refused: trust.store: bad",
               "decisions": [{"stage": "privilege", "allowed": 12, "denied": 3, "errors": 0}]},
    "cloud": {"authorization": "off",
              "channel": {"broker": "127.0.0.1:8883", "connected": true, "bundle_version": 7,
                          "spool_depth": 0, "spool_dropped": 1, "last_error": ""}},
    "watchdog": {"running": true, "watched": 3, "ticks": 120, "stops_ok": 1, "stops_failed": 0}
  })")
      .patch(json::array({{{"op", "replace"},
                           {"path", "/crigate/written_unix"},
                           {"value", 1'800'000'000 - seconds_ago}},
                          {{"op", "replace"}, {"path", "/crigate/state"}, {"value", state}}}));
}

std::string Render(const json& status, const HealthAnswer& health, bool* stale) {
  return RenderStatus(status, "/run/crigate/status.json", health, "/run/crigate/crigate.sock", kNow,
                      seconds(10), stale);
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RenderStatus, SaysWhatAnOperatorAsksFirst) {
  bool stale = true;
  const std::string text = Render(Written(1), {true, "SERVING"}, &stale);
  EXPECT_FALSE(stale);
  EXPECT_TRUE(Has(text, "crigate 0.1.0: SERVING")) << text;
  EXPECT_TRUE(Has(text, "pid 4242, serving since 2027-01-15T08:00:00Z; status written 1 s ago"))
      << text;
  EXPECT_TRUE(Has(text, "/etc/crigate/config.toml")) << text;
  EXPECT_TRUE(Has(text, "DOES NOT ANSWER (containerd Version failed: connection refused)")) << text;
  EXPECT_TRUE(Has(text, "gating CreateContainer, RunPodSandbox; reloads 2 ok, 1 refused")) << text;
  EXPECT_TRUE(Has(text, "refused: trust.store: bad")) << text;
  EXPECT_TRUE(Has(text, "version 7")) << text;
  EXPECT_TRUE(Has(text, "channel connected to 127.0.0.1:8883, spool 0 waiting, 1 dropped")) << text;
  EXPECT_TRUE(Has(text, "running: 3 containers, 120 ticks, stops 1 ok, 0 failed")) << text;
  EXPECT_TRUE(Has(text, "privilege 12 allowed, 3 denied, 0 errors")) << text;
  EXPECT_TRUE(Has(text, "/var/log/crigate/audit.jsonl")) << text;
}

TEST(RenderStatus, AStatusNotRewrittenForLongIsStale) {
  bool stale = false;
  const std::string text = Render(Written(60), {true, "SERVING"}, &stale);
  EXPECT_TRUE(stale);
  EXPECT_TRUE(Has(text, "STALE")) << text;
  EXPECT_TRUE(Has(text, "pid 4242")) << text;
}

TEST(RenderStatus, AStoppedDaemonsLastStateIsNotStale) {
  bool stale = true;
  const std::string text = Render(Written(3600, "stopped"), {false, "no answer"}, &stale);
  EXPECT_FALSE(stale);
  EXPECT_TRUE(Has(text, "NOT SERVING: no answer")) << text;
  EXPECT_TRUE(Has(text, "stopped at 2027-01-15T10:00:00Z (started 2027-01-15T08:00:00Z)")) << text;
}

TEST(RenderStatus, AFileOfAnotherShapeIsShownAsFarAsItGoes) {
  bool stale = true;
  for (const char* text : {R"({"crigate": 1, "policy": {"gated": 2, "loaded": "yes"}})",
                           R"({"containerd": {"answers": "no"}, "watchdog": [], "cloud": 3})",
                           R"([1, 2])", R"({"policy": {"decisions": [1, {"stage": []}]}})"}) {
    const std::string out = Render(json::parse(text), {true, "SERVING"}, &stale);
    EXPECT_TRUE(Has(out, "crigate -: SERVING")) << text << "\n" << out;
  }
}

TEST(RenderStatus, NoStatusFileSaysSo) {
  bool stale = true;
  const std::string text =
      Render(json(), {false, "no answer from /run/crigate/crigate.sock"}, &stale);
  EXPECT_TRUE(Has(text, "no status file at /run/crigate/status.json")) << text;
}

}  // namespace
}  // namespace crigate::cri
