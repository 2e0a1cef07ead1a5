#include "vitals/executor.h"

#include "absl/base/optimization.h"
#include "agent/executor/executor_metrics.h"

namespace vitals {
TaskTicket ExecutorMonitor::Submitted() const {
  if (!valid()) return TaskTicket();
  internal::AddToSeries(*pool_->queued, 1.0);
  if (pool_->remaining != nullptr) internal::AddToSeries(*pool_->remaining, -1.0);
  return TaskTicket(pool_->clock->NowNanos());
}

void ExecutorMonitor::Discarded(const TaskTicket& ticket) const {
  if (!valid() || !ticket.submitted()) return;
  internal::AddToSeries(*pool_->queued, -1.0);
  if (pool_->remaining != nullptr) internal::AddToSeries(*pool_->remaining, 1.0);
}

void ExecutorMonitor::SetPoolSize(int threads) const {
  if (valid() && threads >= 0) internal::Family::SetValue(pool_->pool_size, threads);
}

int ExecutorMonitor::CheckStalls() const {
  return valid() ? internal::ExecutorMetrics::CheckStalls(*pool_) : 0;
}

TaskScope::TaskScope(const ExecutorMonitor& pool, const TaskTicket& ticket, absl::string_view name)
    : pool_(pool.pool_), life_(pool.life_) {
  if (!pool.valid()) {
    done_ = true;
    return;
  }
  start_ = pool_->clock->NowNanos();
  if (ticket.submitted()) {
    internal::AddToSeries(*pool_->queued, -1.0);
    if (pool_->remaining != nullptr) internal::AddToSeries(*pool_->remaining, 1.0);
    internal::ObserveInto(*pool_->idle, internal::ObservedSeconds(start_ - ticket.submit_nanos_));
  }
  internal::AddToSeries(*pool_->active, 1.0);
  if (pool_->stall_nanos > 0) {
    slot_ = pool_->running.Claim(start_, name);
    if (slot_ == internal::RunningTasks::kNoSlot) internal::AddToSeries(*pool_->unwatched, 1.0);
  }
}

absl::Duration TaskScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  if (ABSL_PREDICT_FALSE(!internal::AgentAlive(life_))) return absl::ZeroDuration();  // agent gone
  const int64_t nanos = pool_->clock->NowNanos() - start_;
  pool_->running.Release(slot_);
  internal::ObserveInto(*pool_->run, internal::ObservedSeconds(nanos));
  internal::AddToSeries(*pool_->completed, 1.0);
  internal::AddToSeries(*pool_->active, -1.0);
  return absl::Nanoseconds(nanos);
}

}  // namespace vitals
