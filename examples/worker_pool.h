// A small fixed-size thread pool that reports every task to vitals: the way to instrument a
// pool of your own (the README's "Thread pools" snippet is cut from here). Submit() takes a
// ticket as the task enters the queue; the worker opens a TaskScope when it takes it, so the
// agent sees the queue, the busy threads, each task's wait and run time, and stalls.
//
// Thread-safety: Submit from any thread. The destructor runs what is queued, then joins.

#ifndef VITALS_EXAMPLES_WORKER_POOL_H_
#define VITALS_EXAMPLES_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "vitals/executor.h"

namespace demo {

class WorkerPool {
 public:
  // `threads` workers; Submit refuses tasks while `max_queued` are waiting (0: no limit).
  WorkerPool(vitals::ExecutorMonitor monitor, int threads, size_t max_queued = 0)
      : monitor_(monitor), max_queued_(max_queued) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `fn`, named `name` in stall reports; false when the queue is full.
  bool Submit(std::string name, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (max_queued_ != 0 && queue_.size() >= max_queued_) return false;
      // [readme:executor_submit]
      vitals::TaskTicket ticket = monitor_.Submitted();  // it enters the queue now
      queue_.push_back(Task{ticket, std::move(name), std::move(fn)});
      // [/readme:executor_submit]
    }
    wake_.notify_one();
    return true;
  }

 private:
  struct Task {
    vitals::TaskTicket ticket;
    std::string name;
    std::function<void()> fn;
  };

  void Work() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      Task task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      // [readme:executor_run]
      vitals::TaskScope scope(monitor_, task.ticket, task.name);  // started; ends with the scope
      task.fn();
      // [/readme:executor_run]
    }
  }

  vitals::ExecutorMonitor monitor_;
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Task> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace demo

#endif  // VITALS_EXAMPLES_WORKER_POOL_H_
