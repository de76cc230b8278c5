// What the service manager hears of the daemon: systemd's notify protocol
// (sd_notify(3); the unit is Type=notify). READY=1 means "the socket is
// listening and containerd answers", so kubelet, ordered after crigate, finds
// a gate that can forward; RELOADING=1 ... READY=1 brackets a SIGHUP reload;
// STOPPING=1 starts the drain.
//
// The systemd edge is one interface (ServiceNotifier) so that ServiceStatus,
// which decides what to say and when, is tested with a fake.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace crigate::cri {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  // One notification: newline-separated assignments ("READY=1\nSTATUS=...").
  // Best effort: the daemon serves the same whether anyone listens or not.
  virtual void Send(const std::string& state) = 0;
};

// sd_notify on $NOTIFY_SOCKET; sends nothing when it is unset (not started by
// systemd, or by a unit that is not Type=notify).
std::unique_ptr<ServiceNotifier> MakeSystemdNotifier();

class ServiceStatus final {
 public:
  // Waits at most `for` for the backend; true once it is connected.
  using BackendWait = std::function<bool(std::chrono::milliseconds for_at_most)>;

  // backend names containerd in STATUS= lines.
  ServiceStatus(std::unique_ptr<ServiceNotifier> notifier, std::string backend);
  // Stops the waiter, if any. Sends nothing.
  ~ServiceStatus();
  ServiceStatus(const ServiceStatus&) = delete;
  ServiceStatus& operator=(const ServiceStatus&) = delete;

  // Call once the socket listens. Starts a thread that calls wait (each call
  // bounded by `step`) until the backend answers, then sends READY=1 with a
  // STATUS= of serving; while it waits, STATUS= says it waits for containerd.
  // wait must stay callable until Stopping() or destruction.
  void WaitThenReady(BackendWait wait, std::string serving_status,
                     std::chrono::milliseconds step = std::chrono::seconds(1));
  // Around a SIGHUP reload. Before READY=1 was sent they send nothing: the
  // service is still starting, and READY=1 must keep meaning containerd answers.
  void Reloading();
  void Reloaded(bool applied);
  // At drain: stops the waiter (READY=1 is never sent after this) and sends
  // STOPPING=1. Returns after the waiter's thread has ended.
  void Stopping();

  bool ready() const;

 private:
  void StopWaiter();

  // Constant after construction.
  const std::unique_ptr<ServiceNotifier> notifier_;
  const std::string backend_;

  // Guarded by mu_; every Send happens under it, so the manager sees the
  // notifications in the order the state changed.
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool ready_ = false;
  bool stopping_ = false;
  std::string serving_status_;

  // Last: joined first.
  std::thread waiter_;
};

}  // namespace crigate::cri
