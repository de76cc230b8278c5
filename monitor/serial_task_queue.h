// Runs posted tasks one at a time, in order, on a thread of its own, so that
// slow runtime calls (a StopContainer waits out its grace period) never run
// on a gate thread or stall sampling. Bounded: a full queue refuses work
// instead of growing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace crigate::monitor {

class SerialTaskQueue final {
 public:
  explicit SerialTaskQueue(size_t capacity);
  // Shutdown().
  ~SerialTaskQueue();
  SerialTaskQueue(const SerialTaskQueue&) = delete;
  SerialTaskQueue& operator=(const SerialTaskQueue&) = delete;

  // False when the queue is full or shut down; the task is then dropped.
  // Tasks must not throw.
  bool Post(std::function<void()> task);

  // Blocks until every task posted before the call has run.
  void WaitIdle();

  // Drops tasks not yet started, waits for the running one, joins the thread.
  void Shutdown();

 private:
  void Run();

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable changed_;
  // Protected by mu_.
  std::deque<std::function<void()>> tasks_;
  bool running_task_ = false;
  bool shut_down_ = false;
  std::thread thread_;  // last: started after the members it uses
};

}  // namespace crigate::monitor
