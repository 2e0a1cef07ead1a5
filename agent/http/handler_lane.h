// agent/http/handler_lane.h: a fixed set of threads running queued tasks, with a bounded queue.
//
// The HTTP server runs handlers here, never on its I/O thread. `Submit` never blocks: when
// `max_queued` tasks are already waiting it returns false and the caller answers 503, so a
// flood of requests costs a bounded amount of memory and no thread. `Stop` drops what is still
// queued (the caller has already answered those connections) and joins the threads after their
// current task.
//
// Thread-safety: every method may be called from any thread.

#ifndef VITALS_AGENT_HTTP_HANDLER_LANE_H_
#define VITALS_AGENT_HTTP_HANDLER_LANE_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "agent/base/mutex.h"

namespace vitals {
namespace http {

class HandlerLane {
 public:
  HandlerLane(std::string name, size_t max_queued) : name_(std::move(name)), max_(max_queued) {}
  ~HandlerLane() { Stop(); }
  HandlerLane(const HandlerLane&) = delete;
  HandlerLane& operator=(const HandlerLane&) = delete;

  // Starts `threads` threads. ResourceExhausted when the system refuses a thread.
  absl::Status Start(int threads);

  // Queues `task`; false when the queue is full or the lane is stopped.
  bool Submit(std::function<void()> task);

  // Drops queued tasks, waits for running ones, joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  const std::string name_;
  const size_t max_;
  internal::Mutex mu_;
  internal::CondVar wake_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace http
}  // namespace vitals

#endif  // VITALS_AGENT_HTTP_HANDLER_LANE_H_
