#include "serial_task_queue.h"

namespace crigate::monitor {

SerialTaskQueue::SerialTaskQueue(size_t capacity)
    : capacity_(capacity), thread_([this] { Run(); }) {}

SerialTaskQueue::~SerialTaskQueue() { Shutdown(); }

bool SerialTaskQueue::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_ || tasks_.size() >= capacity_) return false;
    tasks_.push_back(std::move(task));
  }
  changed_.notify_all();
  return true;
}

void SerialTaskQueue::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return shut_down_ || (tasks_.empty() && !running_task_); });
}

void SerialTaskQueue::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    tasks_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void SerialTaskQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [this] { return shut_down_ || !tasks_.empty(); });
    if (shut_down_) break;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    running_task_ = true;
    lock.unlock();
    task();
    lock.lock();
    running_task_ = false;
    changed_.notify_all();
  }
  running_task_ = false;
  changed_.notify_all();
}

}  // namespace crigate::monitor
