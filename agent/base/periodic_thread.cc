#include "agent/base/periodic_thread.h"

#include <chrono>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vitals {
namespace internal {

absl::Status PeriodicThread::Start(absl::Duration interval, std::function<void()> task) {
  MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.SignalAll();
  if (thread.joinable()) thread.join();
}

void PeriodicThread::Run(absl::Duration interval, const std::function<void()>& task) {
  const auto period = absl::ToChronoNanoseconds(interval);
  auto next = std::chrono::steady_clock::now() + period;
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (wake_.WaitUntil(&mu_, next,
                          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; })) {
        return;
      }
    }
    try {
      task();
    } catch (...) {  // the task logs what it can; the thread and the host carry on
    }
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + period;
  }
}

}  // namespace internal
}  // namespace vitals
