#include "cri/daemon/status_file.h"

#include "cri/log.h"
#include "policy/base/files.h"

namespace crigate::cri {

StatusWriter::StatusWriter(std::string path, std::chrono::milliseconds period, Snapshot snapshot)
    : path_(std::move(path)), period_(period), snapshot_(std::move(snapshot)) {}

StatusWriter::~StatusWriter() { Stop(); }

void StatusWriter::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void StatusWriter::Stop(const nlohmann::ordered_json& last) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!last.is_null()) {
    if (base::Status s = Write(last); !s.ok()) log::Warn("status file: {}", s.message());
  }
}

base::Status StatusWriter::Write(const nlohmann::ordered_json& state) const {
  // Readable by root only: it names paths and counts, and root runs
  // `crigate status`.
  return base::WriteFileAtomically(path_, state.dump(2) + "\n", 0600);
}

void StatusWriter::Loop() {
  bool warned = false;  // one warning per run of failures, not one per period
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    base::Status s = Write(snapshot_());
    if (!s.ok() && !warned)
      log::Warn("status file: {}; crigate status cannot read it", s.message());
    warned = !s.ok();
    lock.lock();
    wake_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace crigate::cri
