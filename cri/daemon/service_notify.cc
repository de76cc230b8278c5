#include "cri/daemon/service_notify.h"

#include <systemd/sd-daemon.h>

#include <utility>

namespace crigate::cri {
namespace {

class SystemdNotifier final : public ServiceNotifier {
 public:
  // unset_environment = 0: the daemon notifies many times, not once.
  void Send(const std::string& state) override { (void)sd_notify(0, state.c_str()); }
};

}  // namespace

std::unique_ptr<ServiceNotifier> MakeSystemdNotifier() {
  return std::make_unique<SystemdNotifier>();
}

ServiceStatus::ServiceStatus(std::unique_ptr<ServiceNotifier> notifier, std::string backend)
    : notifier_(std::move(notifier)), backend_(std::move(backend)) {}

ServiceStatus::~ServiceStatus() { StopWaiter(); }

void ServiceStatus::WaitThenReady(BackendWait wait, std::string serving_status,
                                  std::chrono::milliseconds step) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || ready_ || waiter_.joinable()) return;
  serving_status_ = std::move(serving_status);
  notifier_->Send("STATUS=listening; waiting for containerd at " + backend_);
  waiter_ = std::thread([this, wait = std::move(wait), step] {
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      const bool answered = wait(step);
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      if (answered) {
        ready_ = true;
        notifier_->Send("READY=1\nSTATUS=" + serving_status_);
        return;
      }
      // A wait that gives up early must not turn this into a busy loop.
      if (stop_cv_.wait_until(lock, started + step, [this] { return stopping_; })) return;
    }
  });
}

void ServiceStatus::Reloading() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ready_ && !stopping_) notifier_->Send("RELOADING=1\nSTATUS=reloading the config");
}

void ServiceStatus::Reloaded(bool applied) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ready_ || stopping_) return;
  notifier_->Send(applied ? "READY=1\nSTATUS=" + serving_status_
                          : "READY=1\nSTATUS=" + serving_status_ +
                                " (last reload refused; the previous config stays)");
}

void ServiceStatus::Stopping() {
  StopWaiter();
  std::lock_guard<std::mutex> lock(mu_);
  notifier_->Send("STOPPING=1\nSTATUS=draining in-flight calls");
}

bool ServiceStatus::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_;
}

void ServiceStatus::StopWaiter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (waiter_.joinable()) waiter_.join();
}

}  // namespace crigate::cri
