#include "agent/http/handler_lane.h"

#include <pthread.h>

#include <exception>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace http {

absl::Status HandlerLane::Start(int threads) {
  internal::MutexLock lock(&mu_);
  stopping_ = false;
  for (int i = 0; i < threads; ++i) {
    try {
      threads_.emplace_back([this] { Run(); });
    } catch (const std::system_error& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot start HTTP handler thread ", name_, ": ", e.what()));
    }
    // "vitals-scrape", "vitals-slow": visible in top -H and in profiles (15 bytes at most).
    pthread_setname_np(threads_.back().native_handle(), absl::StrCat("vitals-", name_).c_str());
  }
  return absl::OkStatus();
}

bool HandlerLane::Submit(std::function<void()> task) {
  {
    internal::MutexLock lock(&mu_);
    if (stopping_ || threads_.empty() || queue_.size() >= max_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.Signal();
  return true;
}

void HandlerLane::Stop() {
  std::vector<std::thread> threads;
  std::deque<std::function<void()>> dropped;
  {
    internal::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
    dropped.swap(queue_);
  }
  wake_.SignalAll();
  for (std::thread& t : threads) t.join();
  // `dropped` goes here, outside the lock: its tasks may own connections.
}

void HandlerLane::Run() {
  for (;;) {
    std::function<void()> task;
    {
      internal::MutexLock lock(&mu_);
      wake_.Wait(&mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (...) {
      // The server's tasks catch their handlers' exceptions; nothing may end this thread.
    }
  }
}

}  // namespace http
}  // namespace vitals
