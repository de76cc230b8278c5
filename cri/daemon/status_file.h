// The daemon's state for `crigate status`: one JSON object, rewritten
// atomically every few seconds by a thread of its own, and a last time
// ("state": "stopped") when the daemon stops. A file rather than a method
// on the socket, so that the front door serves nothing beyond the CRI and
// health, and so that status still reads something when the daemon hangs
// (its "written_at" then grows old, which the command reports).
//
//   StatusWriter writer(path, std::chrono::seconds(2), [&] { return Snapshot(); });
//   writer.Start();   // writes at once, then every period
//   writer.Stop(last);  // joins; writes `last` as the final state
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "policy/base/status.h"

namespace crigate::cri {

class StatusWriter final {
 public:
  // Builds the object to write; runs on the writer's thread (it may ask
  // containerd, briefly).
  using Snapshot = std::function<nlohmann::ordered_json()>;

  StatusWriter(std::string path, std::chrono::milliseconds period, Snapshot snapshot);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  void Start();
  // Stops the thread (when it runs) and writes `last` (when not null); may
  // be called again to write a later last state.
  void Stop(const nlohmann::ordered_json& last = nullptr);

  const std::string& path() const { return path_; }
  // The last write's failure (for the start-up check); OK when it worked.
  base::Status Write(const nlohmann::ordered_json& state) const;

 private:
  void Loop();

  // Constant after construction.
  const std::string path_;
  const std::chrono::milliseconds period_;
  const Snapshot snapshot_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace crigate::cri
