#include "agent/executor/executor_metrics.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/core/family_spec.h"
#include "agent/core/text_escape.h"

namespace vitals {
namespace internal {
namespace {

constexpr int kMaxWatchedTasks = 65536;

bool SameOptions(const ExecutorOptions& a, const ExecutorOptions& b) {
  return a.pool_size == b.pool_size && a.core_pool_size == b.core_pool_size &&
         a.max_pool_size == b.max_pool_size && a.queue_capacity == b.queue_capacity &&
         a.stall_threshold == b.stall_threshold && a.watched_tasks == b.watched_tasks;
}

absl::Status Validate(absl::string_view name, const ExecutorOptions& o) {
  if (name.empty()) return absl::InvalidArgumentError("an executor needs a name");
  if (o.pool_size < 0 || o.core_pool_size < 0 || o.max_pool_size < 0 || o.queue_capacity < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("executor \"", name, "\": pool sizes and queue capacity must be >= 0"));
  }
  if (o.stall_threshold < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("executor \"", name, "\": stall_threshold must be >= 0"));
  }
  if (o.watched_tasks < 0 || o.watched_tasks > kMaxWatchedTasks) {
    return absl::InvalidArgumentError(
        absl::StrCat("executor \"", name, "\": watched_tasks must be in 0..", kMaxWatchedTasks));
  }
  return absl::OkStatus();
}

uint32_t WatchedSlots(const ExecutorOptions& o) {
  if (o.stall_threshold == absl::ZeroDuration()) return 1;  // unused
  if (o.watched_tasks > 0) return static_cast<uint32_t>(o.watched_tasks);
  const int largest = std::max({o.pool_size, o.core_pool_size, o.max_pool_size});
  return static_cast<uint32_t>(std::min(std::max(64, 2 * largest), kMaxWatchedTasks));
}

}  // namespace

std::vector<double> ExecutorDurationBuckets() {
  return {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

absl::StatusOr<std::unique_ptr<ExecutorMetrics>> ExecutorMetrics::Create(Registry& registry,
                                                                         const Clock* clock,
                                                                         RateLimitedLog* log) {
  std::unique_ptr<ExecutorMetrics> m(new ExecutorMetrics(clock, log));
  const std::vector<std::string> name = {"name"};
  absl::Status s = CreateFamilies(
      registry,
      {
          {&m->queued_, "executor_queued_tasks",
           "The approximate number of tasks that are queued for execution.", MetricType::kGauge,
           name},
          {&m->active_, "executor_active_threads",
           "The approximate number of threads that are actively executing tasks.",
           MetricType::kGauge, name},
          {&m->pool_size_, "executor_pool_size_threads",
           "The current number of threads in the pool.", MetricType::kGauge, name},
          {&m->core_, "executor_pool_core_threads", "The core number of threads for the pool.",
           MetricType::kGauge, name},
          {&m->max_, "executor_pool_max_threads",
           "The maximum allowed number of threads in the pool.", MetricType::kGauge, name},
          {&m->remaining_, "executor_queue_remaining_tasks",
           "The number of additional elements that this queue can ideally accept without "
           "blocking.",
           MetricType::kGauge, name},
          {&m->completed_, "executor_completed_tasks_total",
           "The approximate total number of tasks that have completed execution.",
           MetricType::kCounter, name},
          {&m->run_, "executor_seconds", "Run times of the pool's tasks, start to finish.",
           MetricType::kHistogram, name, ExecutorDurationBuckets()},
          {&m->idle_, "executor_idle_seconds",
           "Times the pool's tasks waited in the queue, submit to start.", MetricType::kHistogram,
           name, ExecutorDurationBuckets()},
          {&m->stalled_, "vitals_executor_stalled_tasks_total",
           "Tasks that ran longer than the pool's stall threshold (each counted once).",
           MetricType::kCounter, name},
          {&m->unwatched_, "vitals_executor_unwatched_tasks_total",
           "Tasks that started while the pool's watched_tasks slots were all taken, and so "
           "ran without a stall check.",
           MetricType::kCounter, name},
      });
  if (!s.ok()) return s;
  return m;
}

ExecutorMetrics::~ExecutorMetrics() { Stop(); }

absl::StatusOr<ExecutorPool*> ExecutorMetrics::Pool(absl::string_view name,
                                                    const ExecutorOptions& options) {
  if (absl::Status s = Validate(name, options); !s.ok()) return s;
  const std::string label = RepairUtf8(name, kMaxLabelValueBytes);
  internal::MutexLock lock(&mu_);
  for (const auto& p : pools_) {
    if (p->name != label) continue;
    if (!SameOptions(p->options, options)) {
      return absl::InvalidArgumentError(
          absl::StrCat("executor \"", label, "\" is already reported with other options"));
    }
    return p.get();
  }
  if (pools_.size() >= kMaxPools) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", kMaxPools, " executors per agent; \"", label, "\" is one more"));
  }
  auto pool = std::make_unique<ExecutorPool>(label, options, WatchedSlots(options));
  const absl::string_view key[1] = {pool->name};
  pool->clock = clock_;
  pool->log = log_;
  pool->stall_nanos = absl::ToInt64Nanoseconds(options.stall_threshold);
  pool->queued = queued_->Find(key);
  pool->active = active_->Find(key);
  pool->pool_size = pool_size_->Find(key);
  pool->completed = completed_->Find(key);
  pool->run = run_->Find(key);
  pool->idle = idle_->Find(key);
  pool->stalled = stalled_->Find(key);
  pool->unwatched = unwatched_->Find(key);
  Family::SetValue(pool->pool_size, options.pool_size);
  Family::SetValue(core_->Find(key),
                   options.core_pool_size > 0 ? options.core_pool_size : options.pool_size);
  Family::SetValue(max_->Find(key),
                   options.max_pool_size > 0 ? options.max_pool_size : options.pool_size);
  if (options.queue_capacity > 0) {
    pool->remaining = remaining_->Find(key);
    Family::SetValue(pool->remaining, options.queue_capacity);
  }
  pools_.push_back(std::move(pool));
  return pools_.back().get();
}

int ExecutorMetrics::CheckStalls(ExecutorPool& pool) {
  if (pool.stall_nanos <= 0) return 0;
  internal::MutexLock lock(&pool.scan_mu);
  const int64_t now = pool.clock->NowNanos();
  absl::flat_hash_set<uint64_t> still;
  int reported = 0;
  pool.running.Scan([&](const RunningTasks::Running& task) {
    const int64_t ran = now - task.start_nanos;
    if (ran < pool.stall_nanos) return;
    still.insert(task.id);
    if (pool.reported.contains(task.id)) return;
    ++reported;
    AddToSeries(*pool.stalled, 1.0);
    if (pool.log != nullptr) {
      pool.log->Log(LogSeverity::kWarning,
                    absl::StrFormat("executor \"%s\": task \"%s\" has been running for %.1f s "
                                    "(stall threshold %s)",
                                    pool.name, RepairUtf8(task.name, RunningTasks::kMaxNameBytes),
                                    static_cast<double>(ran) * 1e-9,
                                    absl::FormatDuration(pool.options.stall_threshold)));
    }
  });
  pool.reported = std::move(still);
  return reported;
}

int ExecutorMetrics::CheckStalls() {
  std::vector<ExecutorPool*> pools;
  {
    internal::MutexLock lock(&mu_);
    for (const auto& p : pools_) pools.push_back(p.get());
  }
  int n = 0;
  for (ExecutorPool* p : pools) n += CheckStalls(*p);
  return n;
}

absl::Status ExecutorMetrics::Start(absl::Duration interval) {
  return checker_.Start(interval, [this] { CheckStalls(); });
}

void ExecutorMetrics::Stop() { checker_.Stop(); }

}  // namespace internal
}  // namespace vitals
