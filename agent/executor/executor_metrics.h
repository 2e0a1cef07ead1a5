// agent/executor/executor_metrics.h: the thread pools a service reports (vitals/executor.h):
// their Micrometer-named families, one ExecutorPool per pool name, and the stall check.
//
// An ExecutorPool holds its series (resolved once, so a task report is per-CPU adds and
// histogram observes) and the RunningTasks its workers claim slots in. CheckStalls is the
// only reader of the slots; it is serialized by the pool's scan mutex, which no worker takes.

#ifndef VITALS_AGENT_EXECUTOR_EXECUTOR_METRICS_H_
#define VITALS_AGENT_EXECUTOR_EXECUTOR_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/base/periodic_thread.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/executor/running_tasks.h"
#include "vitals/clock.h"
#include "vitals/executor.h"

namespace vitals {
namespace internal {

struct ExecutorPool {
  ExecutorPool(std::string pool_name, const ExecutorOptions& opts, uint32_t watched)
      : name(std::move(pool_name)), options(opts), running(watched) {}

  const std::string name;
  const ExecutorOptions options;
  const Clock* clock = nullptr;
  RateLimitedLog* log = nullptr;
  int64_t stall_nanos = 0;  // 0: not watched
  Series *queued = nullptr, *active = nullptr, *pool_size = nullptr, *remaining = nullptr;
  Series *completed = nullptr, *run = nullptr, *idle = nullptr, *stalled = nullptr;
  Series* unwatched = nullptr;  // tasks that found no free slot in `running`
  RunningTasks running;
  internal::Mutex scan_mu;
  // The runs reported as stalled that were still running at the last check.
  absl::flat_hash_set<uint64_t> reported ABSL_GUARDED_BY(scan_mu);
};

// How often a started agent checks its pools for stalls.
inline constexpr absl::Duration kStallCheckInterval = absl::Milliseconds(250);

class ExecutorMetrics {
 public:
  // Creates the families in `registry`; pools log their stalls to `log`.
  static absl::StatusOr<std::unique_ptr<ExecutorMetrics>> Create(Registry& registry,
                                                                 const Clock* clock,
                                                                 RateLimitedLog* log);
  ~ExecutorMetrics();

  // The pool called `name`, made on first use. InvalidArgument for an empty name or bad
  // options, or when `name` exists with other options; ResourceExhausted past kMaxPools.
  absl::StatusOr<ExecutorPool*> Pool(absl::string_view name, const ExecutorOptions& options);
  static constexpr size_t kMaxPools = 256;

  // Checks every pool for stalls; returns how many it reported.
  int CheckStalls();
  static int CheckStalls(ExecutorPool& pool);

  // Checks every `interval` on a thread of its own, until Stop().
  absl::Status Start(absl::Duration interval);
  void Stop();

 private:
  ExecutorMetrics(const Clock* clock, RateLimitedLog* log) : clock_(clock), log_(log) {}

  const Clock* const clock_;
  RateLimitedLog* const log_;
  Family *queued_ = nullptr, *active_ = nullptr, *pool_size_ = nullptr, *core_ = nullptr,
         *max_ = nullptr, *remaining_ = nullptr, *completed_ = nullptr, *run_ = nullptr,
         *idle_ = nullptr, *stalled_ = nullptr, *unwatched_ = nullptr;
  internal::Mutex mu_;
  std::vector<std::unique_ptr<ExecutorPool>> pools_ ABSL_GUARDED_BY(mu_);
  PeriodicThread checker_;
};

// The bounds of executor_seconds and executor_idle_seconds: 100 us to 10 s (a queue wait is
// microseconds in a pool that keeps up).
std::vector<double> ExecutorDurationBuckets();

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_EXECUTOR_EXECUTOR_METRICS_H_
