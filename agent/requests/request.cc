#include "vitals/request.h"

#include "agent/core/request_db.h"
#include "agent/requests/request_metrics.h"

namespace vitals {

void RouteHandle::Record(int status, absl::Duration duration) const {
  if (route_ != nullptr) metrics_->Record(route_, status, absl::ToInt64Nanoseconds(duration));
}

void RouteHandle::AddActive(double delta) const {
  if (route_ != nullptr) internal::AddF64(internal::ThreadCell(route_->active->cell), delta);
}

RequestScope::RequestScope(const RouteHandle& route)
    : metrics_(route.metrics_), route_(route.route_) {
  if (route_ == nullptr) {
    done_ = true;
    return;
  }
  Begin();
}

void RequestScope::Begin() {
  internal::AddF64(internal::ThreadCell(route_->active->cell), 1.0);
  db_scope_.Begin(metrics_, route_);
  start_nanos_ = metrics_->clock().NowNanos();
}

absl::Duration RequestScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  const int64_t nanos = metrics_->clock().NowNanos() - start_nanos_;
  metrics_->Record(route_, status_, nanos);
  db_scope_.End();
  internal::AddF64(internal::ThreadCell(route_->active->cell), -1.0);
  return absl::Nanoseconds(nanos);
}

void RequestScope::Cancel() {
  if (done_) return;
  done_ = true;
  db_scope_.End(/*record=*/false);
  internal::AddF64(internal::ThreadCell(route_->active->cell), -1.0);
}

RequestDbScope::RequestDbScope(const RouteHandle& route) {
  if (route.route_ != nullptr) Begin(route.metrics_, route.route_);
}

void RequestDbScope::Begin(internal::RequestMetrics* metrics, internal::RouteEntry* route) {
  metrics_ = metrics;
  route_ = route;
  db_ = internal::AcquireRequestDb(route_);
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  prev_db_ = current.db;
  prev_generation_ = current.generation;
  current.db = db_;
  current.generation = db_->generation.load(std::memory_order_relaxed);
}

void RequestDbScope::End(bool record) {
  if (db_ == nullptr) return;
  if (record) {
    internal::ObserveInto(*route_->db_queries,
                          static_cast<double>(db_->queries.load(std::memory_order_relaxed)));
    if (internal::RequestObserver* o = metrics_->observer(); o != nullptr) {
      o->RequestFinished(*route_, *db_);
    }
  }
  // Stop being current on this thread (if this thread is the one it is current on).
  internal::CurrentRequest& current = internal::ThreadCurrentRequest();
  if (current.db == db_) {
    current.db = prev_db_;
    current.generation = prev_generation_;
  }
  internal::ReleaseRequestDb(db_);
  db_ = nullptr;
}

}  // namespace vitals
