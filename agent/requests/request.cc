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

void RouteHandle::Record(int status, RequestStamp start, RequestStamp end) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    metrics_->RecordStamps(route_, status, start.stamp_, end.stamp_, nullptr);
  }
}

void RouteHandle::Record(int status, RequestStamp start, RequestStamp end,
                         const TraceContext& trace) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    metrics_->RecordStamps(route_, status, start.stamp_, end.stamp_,
                           trace.valid() ? &trace : nullptr);
  }
}

void RouteHandle::RecordBodySizes(int status, int64_t request_bytes, int64_t response_bytes) const {
  if (ABSL_PREDICT_TRUE(valid())) {
    metrics_->RecordBodySizes(route_, status, request_bytes, response_bytes);
  }
}

void RouteHandle::AddActive(double delta) const {
  if (ABSL_PREDICT_TRUE(valid())) internal::AddToSeries(*route_->active, delta);
}

// The request path is this file: RequestScope's constructor and End, with RequestDbScope's Begin
// and EndNow inlined into them (one call each way, no copies of the route beyond the scope's).

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RequestDbScope::Begin(const RouteHandle& route,
                                                               int64_t stamp) {
  internal::RequestMetrics* const metrics = route.metrics_;
  internal::RouteEntry* const entry = route.route_;
  metrics_ = metrics;
  route_ = entry;
  life_ = route.life_;
  internal::ThreadRequests& thread = internal::ThisThreadRequests();
  internal::RequestDb* const db = internal::AcquireRequestDb(entry, thread);
  db_ = db;
  // Stores to this request's own RequestDb (no shared line): the in-flight view and the
  // active-requests gauge read them.
  db->started.store(stamp, std::memory_order_relaxed);
  db->owner.store(metrics, std::memory_order_release);
  prev_db_ = thread.current.db;
  prev_generation_ = thread.current.generation;
  thread.pending_route = nullptr;  // an earlier request's calls no longer wait for a record
  thread.current.db = db;
  thread.current.generation = db->generation.load(std::memory_order_relaxed);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RequestDbScope::EndNow(bool record) {
  internal::RequestDb* const db = db_;
  const bool used = db->used.load(std::memory_order_relaxed);
  if (record) {
    if (ABSL_PREDICT_TRUE(!used)) {
      // No database call: count the request in the le="0" bucket (the count of its pair); the
      // sum does not change.
      internal::AddToSeries(*route_->db_queries, 1.0, internal::HistogramLayout::pair(0));
    } else {
      // A database or outbound call: the query count (0 for outbound calls only), the time
      // breakdown's call parts, and the N+1 report.
      internal::ObserveInto(*route_->db_queries,
                            static_cast<double>(db->queries.load(std::memory_order_relaxed)));
      metrics_->EndCalls(route_, *db, internal::ThisThreadRequests());
      internal::RequestObserver* o = metrics_->observer();
      if (o != nullptr && db->detected.load(std::memory_order_acquire)) {
        o->RequestFinished(*route_, *db);  // only requests with an N+1 detection
      }
    }
  }
  // Stop being current on this thread (if this thread is the one it is current on).
  internal::ThreadRequests& thread = internal::ThisThreadRequests();
  if (ABSL_PREDICT_TRUE(thread.current.db == db)) {
    thread.current.db = prev_db_;
    thread.current.generation = prev_generation_;
  }
  db->owner.store(nullptr, std::memory_order_relaxed);
  internal::ReleaseRequestDb(db, used, thread);
  db_ = nullptr;
}

RequestScope::RequestScope(const RouteHandle& route) {
  const int64_t raw = internal::RequestMetrics::RawStamp();  // first: see RawStamp
  if (ABSL_PREDICT_FALSE(!route.valid())) {
    done_ = true;
    return;
  }
  // In flight from here (http_server_active_requests counts the RequestDb; no add of its own).
  start_stamp_ = route.metrics_->StampOf(raw);
  db_scope_.Begin(route, start_stamp_);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool RequestScope::Complete(int64_t& end_stamp) {
  const int64_t raw = internal::RequestMetrics::RawStamp();  // first: see RawStamp
  if (ABSL_PREDICT_FALSE(!internal::AgentAlive(db_scope_.life_))) {
    db_scope_.EndNow(/*record=*/false);  // the agent is gone: record nothing
    return false;
  }
  internal::RequestMetrics* metrics = db_scope_.metrics_;
  internal::RouteEntry* route = db_scope_.route_;
  end_stamp = metrics->StampOf(raw);
  // The bookkeeping first: a request that made calls leaves their time for RecordStamps to
  // take from the request's own.
  db_scope_.EndNow(/*record=*/true);
  metrics->RecordStamps(route, status_, start_stamp_, end_stamp,
                        trace_.valid() ? &trace_ : nullptr);
  if (ABSL_PREDICT_FALSE((request_bytes_ & response_bytes_) >= 0)) {  // either set
    metrics->RecordBodySizes(route, status_, request_bytes_, response_bytes_);
  }
  return true;
}

void RequestScope::End() {
  int64_t end_stamp;
  Complete(end_stamp);
}

absl::Duration RequestScope::Finish() {
  if (done_) return absl::ZeroDuration();
  done_ = true;
  internal::RequestMetrics* metrics = db_scope_.metrics_;
  int64_t end;
  if (!Complete(end)) return absl::ZeroDuration();
  return absl::Nanoseconds(internal::ObservedNanos(metrics->NanosBetween(start_stamp_, end)));
}

void RequestScope::Cancel() {
  if (done_) return;
  done_ = true;
  db_scope_.End(/*record=*/false);
}

RequestDbScope::RequestDbScope(const RouteHandle& route) {
  if (route.valid()) Begin(route, route.metrics_->Stamp());
}

RequestDbScope::RequestDbScope(const RouteHandle& route, RequestStamp start) {
  if (route.valid()) Begin(route, start.stamp_);
}

void RequestDbScope::End(bool record) {
  if (db_ == nullptr) return;
  EndNow(record && internal::AgentAlive(life_));
}

}  // namespace vitals
