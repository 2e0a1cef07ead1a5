// vitals/executor.h: how saturated the service's own thread pools are, under Micrometer's
// executor metric names, and tasks that run too long.
//
// A pool reports three moments of each task: submitted (it enters the queue), started (a
// worker takes it) and finished. From them the agent records, with the pool's name as the
// `name` label (Micrometer's ExecutorServiceMetrics and TimedExecutorService names):
//   executor_queued_tasks            tasks submitted and not started yet
//   executor_active_threads          tasks running now (one thread each)
//   executor_pool_size_threads       threads in the pool (ExecutorOptions, SetPoolSize)
//   executor_pool_core_threads, executor_pool_max_threads
//   executor_queue_remaining_tasks   queue capacity left (bounded queues only)
//   executor_completed_tasks_total   tasks finished
//   executor_seconds                 histogram of task run times (start to finish)
//   executor_idle_seconds            histogram of queue waits (submit to start)
//   vitals_executor_stalled_tasks_total   tasks that ran longer than the stall threshold
//   vitals_executor_unwatched_tasks_total tasks that ran without a stall check (more running at
//                                         once than `watched_tasks`)
// A task still running past `stall_threshold` is reported once: one warning log line with the
// pool and the task's name, and one count. The agent looks for stalls four times a second
// while it is started (ExecutorMonitor::CheckStalls does it on demand).
//
//   vitals::ExecutorOptions options;
//   options.pool_size = 8;
//   auto pool = agent.Executor("image_workers", options);   // once; absl::StatusOr
//   // submit():
//   vitals::TaskTicket ticket = pool->Submitted();    // travels with the task in the queue
//   // in the worker:
//   { vitals::TaskScope task(*pool, ticket, "resize"); ... run it ... }
//
// Thread-safety: every call from any thread at once; a TaskScope belongs to one task.
// Ownership: an ExecutorMonitor is a small value that points into its agent. It and its
// TaskScopes may outlive the agent: once the agent is destroyed they record nothing.
// Cost (BENCHMARKS.md): Submitted is one clock read and one per-CPU add (two with a bounded
// queue); a TaskScope is two clock reads, four per-CPU adds, two histogram observes and, when
// stalls are watched, a compare-and-swap and a few stores on a slot the worker thread keeps
// using (a line no other thread writes). No lock, no allocation.

#ifndef VITALS_EXECUTOR_H_
#define VITALS_EXECUTOR_H_

#include <cstdint>
#include <limits>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/detail/agent_life.h"
#include "vitals/detail/export.h"

namespace vitals {

namespace internal {
struct ExecutorPool;
}  // namespace internal

struct ExecutorOptions {
  // Threads in the pool now (executor_pool_size_threads); SetPoolSize changes it.
  int pool_size = 0;
  // executor_pool_core_threads and executor_pool_max_threads; 0: the pool size.
  int core_pool_size = 0;
  int max_pool_size = 0;
  // The queue's capacity, for executor_queue_remaining_tasks; 0: unbounded (not reported).
  int queue_capacity = 0;
  // A task running this long or longer is a stall; zero: stalls are not watched.
  absl::Duration stall_threshold = absl::Seconds(10);
  // How many tasks at once are watched for stalls (64 bytes each); 0: twice the largest pool
  // size given, at least 64. Tasks beyond it run unwatched (vitals_executor_unwatched_tasks_total
  // counts them).
  int watched_tasks = 0;
};

// When a task was submitted; made by ExecutorMonitor::Submitted, consumed by one TaskScope (or
// ExecutorMonitor::Discarded). A default ticket stands for a task that was never queued.
class VITALS_EXPORT TaskTicket {
 public:
  TaskTicket() = default;
  bool submitted() const { return submit_nanos_ != kNone; }

 private:
  friend class ExecutorMonitor;
  friend class TaskScope;
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  explicit TaskTicket(int64_t nanos) : submit_nanos_(nanos) {}
  int64_t submit_nanos_ = kNone;
};

// One pool's handle (Agent::Executor). Cheap to copy.
class VITALS_EXPORT ExecutorMonitor {
 public:
  ExecutorMonitor() = default;  // records nothing

  // A task entered the queue. Cost above.
  TaskTicket Submitted() const;
  // A queued task will not run (cancelled, rejected after it was queued, dropped at shutdown):
  // it leaves the queue without counting as started or completed.
  void Discarded(const TaskTicket& ticket) const;
  // The pool now has `threads` threads (O(CPUs): for resizes, not per task).
  void SetPoolSize(int threads) const;
  // Reports the tasks that have run past the stall threshold and were not reported yet;
  // returns how many. The agent calls it four times a second; tests call it with a fake clock.
  int CheckStalls() const;

  // True while it names a pool of an agent that is alive.
  bool valid() const { return internal::AgentAlive(life_); }

 private:
  friend class Agent;
  friend class TaskScope;
  ExecutorMonitor(internal::ExecutorPool* pool, uint64_t life) : pool_(pool), life_(life) {}
  internal::ExecutorPool* pool_ = nullptr;
  uint64_t life_ = 0;  // the agent's token (vitals/detail/agent_life.h)
};

// One task's run, from construction (it started) to destruction or Finish().
class VITALS_EXPORT TaskScope {
 public:
  // `ticket` from Submitted() when the task was queued (its wait is recorded), a default one
  // when it was not. `name` (cut to 40 bytes, copied) names the task in a stall report.
  TaskScope(const ExecutorMonitor& pool, const TaskTicket& ticket, absl::string_view name = {});
  ~TaskScope() { Finish(); }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

  // Ends the task now; later calls do nothing. Returns its run time.
  absl::Duration Finish();

 private:
  internal::ExecutorPool* pool_;
  uint64_t life_;
  int64_t start_ = 0;
  uint32_t slot_ = 0;
  bool done_ = false;
};

}  // namespace vitals

#endif  // VITALS_EXECUTOR_H_
