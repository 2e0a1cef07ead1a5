#include "vitals/request.h"

#include "absl/base/optimization.h"
#include "agent/core/request_db.h"
#include "agent/requests/request_metrics.h"

namespace vitals {

void RouteHandle::Record(int status, absl::Duration duration) const {
  if (ABSL_PREDICT_TRUE(valid()))
    metrics_->Record(route_, status, absl::ToInt64Nanoseconds(duration));
}

void RouteHandle::Record(int status, absl::Duration duration, const TraceContext& trace) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    metrics_->Record(route_, status, absl::ToInt64Nanoseconds(duration),
                     trace.valid() ? &trace : nullptr);
  }
}

void RouteHandle::AddActive(double delta) const {
  if (ABSL_PREDICT_TRUE(valid())) internal::AddToCell(route_->active->cell, delta);
}

RequestScope::RequestScope(const RouteHandle& route) : route_(route) {
  if (!route_.valid()) {
    done_ = true;
    return;
  }
  Begin();
}

void RequestScope::Begin() {
  internal::AddToCell(route_.route_->active->cell, 1.0);
  start_nanos_ = db_scope_.Begin(route_);
}

void RequestScope::EndActive() { internal::AddToCell(route_.route_->active->cell, -1.0); }

absl::Duration RequestScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  if (ABSL_PREDICT_FALSE(!route_.valid())) {  // the agent is gone: record nothing
    db_scope_.End(/*record=*/false);
    return absl::ZeroDuration();
  }
  internal::RequestMetrics* metrics = route_.metrics_;
  const int64_t end = metrics->Stamp();
  const int64_t nanos = metrics->NanosBetween(start_nanos_, end);
  metrics->Record(route_.route_, status_, nanos, trace_.valid() ? &trace_ : nullptr, end);
  db_scope_.End();
  EndActive();
  return absl::Nanoseconds(nanos);
}

void RequestScope::Cancel() {
  if (done_) return;
  done_ = true;
  db_scope_.End(/*record=*/false);
  if (route_.valid()) EndActive();
}

RequestDbScope::RequestDbScope(const RouteHandle& route) {
  if (route.valid()) Begin(route);
}

int64_t RequestDbScope::Begin(const RouteHandle& route) {
  metrics_ = route.metrics_;
  route_ = route.route_;
  life_ = route.life_;
  db_ = internal::AcquireRequestDb(route_);
  // Stores to this request's own RequestDb (no shared line): the in-flight view reads them.
  const int64_t stamp = metrics_->Stamp();
  db_->started.store(stamp, std::memory_order_relaxed);
  db_->owner.store(metrics_, std::memory_order_release);
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  prev_db_ = current.db;
  prev_generation_ = current.generation;
  current.db = db_;
  current.generation = db_->generation.load(std::memory_order_relaxed);
  return stamp;
}

void RequestDbScope::End(bool record) {
  if (db_ == nullptr) return;
  if (record && ABSL_PREDICT_TRUE(internal::AgentAlive(life_))) {
    if (ABSL_PREDICT_TRUE(!db_->used.load(std::memory_order_relaxed))) {
      // No database call: count the request in the le="0" bucket (the count of its pair); the
      // sum does not change.
      internal::AddToCell(route_->db_queries->cell + internal::HistogramLayout::pair(0), 1.0);
    } else {
      internal::ObserveInto(*route_->db_queries,
                            static_cast<double>(db_->queries.load(std::memory_order_relaxed)));
      internal::RequestObserver* o = metrics_->observer();
      if (o != nullptr && db_->detected.load(std::memory_order_acquire)) {
        o->RequestFinished(*route_, *db_);  // only requests with an N+1 detection
      }
    }
  }
  // Stop being current on this thread (if this thread is the one it is current on).
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  if (current.db == db_) {
    current.db = prev_db_;
    current.generation = prev_generation_;
  }
  db_->owner.store(nullptr, std::memory_order_relaxed);
  internal::ReleaseRequestDb(db_);
  db_ = nullptr;
}

}  // namespace vitals
