#include "agent/base/periodic_thread.h"

#include <chrono>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

absl::Status PeriodicThread::Start(absl::Duration interval, std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return absl::FailedPreconditionError("already running");
  stopping_ = false;
  try {
    thread_ = std::thread([this, interval, task = std::move(task)] { Run(interval, task); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot start a thread: ", e.what()));
  }
  return absl::OkStatus();
}

void PeriodicThread::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

void PeriodicThread::Run(absl::Duration interval, const std::function<void()>& task) {
  const auto period = absl::ToChronoNanoseconds(interval);
  auto next = std::chrono::steady_clock::now() + period;
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_until(lock, next, [this] { return stopping_; })) {
    lock.unlock();
    try {
      task();
    } catch (...) {  // the task logs what it can; the thread and the host carry on
    }
    lock.lock();
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + period;
  }
}

}  // namespace internal
}  // namespace vitals
