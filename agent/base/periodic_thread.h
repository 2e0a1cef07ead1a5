// agent/base/periodic_thread.h: a thread that runs a task every interval and stops at once.
//
// The wait is on a condition variable, so Stop() returns promptly whatever the interval. Missed
// periods (a suspended process, a slow task) are skipped, not caught up in a burst. Exceptions
// from the task are caught: the host never dies because of a background task.

#ifndef VITALS_AGENT_BASE_PERIODIC_THREAD_H_
#define VITALS_AGENT_BASE_PERIODIC_THREAD_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Runs `task` every `interval` (the first run one interval from now). FailedPrecondition
  // when running, ResourceExhausted when no thread can be made.
  absl::Status Start(absl::Duration interval, std::function<void()> task);
  // Wakes and joins the thread. Idempotent.
  void Stop();

 private:
  void Run(absl::Duration interval, const std::function<void()>& task);

  Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_PERIODIC_THREAD_H_
