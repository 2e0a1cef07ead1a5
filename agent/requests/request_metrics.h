// agent/requests/request_metrics.h: the built-in request metrics behind RequestScope, RouteHandle
// and Agent::Record.
//
// Routes are keyed by (normalized method, route) in an EntryTable. Each RouteEntry
// holds its active-requests and slow-requests series, and a few slots that cache the duration
// series per status code, so a recorded request costs one slot probe and one histogram observe.

#ifndef VITALS_AGENT_REQUESTS_REQUEST_METRICS_H_
#define VITALS_AGENT_REQUESTS_REQUEST_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "agent/base/log_throttle.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"
#include "agent/base/tsc_clock.h"
#include "agent/core/entry_table.h"
#include "agent/core/family.h"
#include "agent/core/names.h"
#include "agent/core/registry.h"
#include "agent/core/request_db.h"
#include "agent/core/series_slots.h"
#include "agent/core/slow_request_listener.h"
#include "agent/requests/slow_request_ring.h"
#include "vitals/clock.h"
#include "vitals/options.h"

namespace vitals {
namespace internal {

// Buckets of http_server_request_db_queries (database calls per request).
std::vector<double> DbQueriesPerRequestBuckets();

struct RouteEntry : RouteLabels {
  Series* active = nullptr;
  Series* slow = nullptr;
  Series* db_queries = nullptr;  // http_server_request_db_queries
  bool overflow = false;
  SeriesSlots by_status;       // the duration series of each status code seen
  LogThrottle::Gate slow_log;  // one slow-request line per route a minute; slow requests only
};

class RequestMetrics {
 public:
  // Creates the three families in `registry`. Fails only on invalid options.
  static absl::StatusOr<std::unique_ptr<RequestMetrics>> Create(Registry& registry,
                                                                const Options& options,
                                                                const Clock* clock,
                                                                RateLimitedLog* log);

  RouteEntry* FindRoute(absl::string_view method, absl::string_view route);
  Series* DurationSeries(RouteEntry* entry, int status);
  // `trace`, when not null (and valid), is offered as the duration bucket's exemplar, timed at
  // `end_stamp` (a Stamp() of the request's end) or, without one, by a clock read.
  static constexpr int64_t kNoStamp = INT64_MIN;
  void Record(RouteEntry* entry, int status, int64_t nanos, const TraceContext* trace = nullptr,
              int64_t end_stamp = kNoStamp);
  // A start stamp and the nanoseconds since it: with the TSC clock, raw ticks converted once
  // at the end (no virtual call, one conversion per request); else clock().NowNanos().
  int64_t Stamp() const {
#ifdef VITALS_HAVE_TSC
    if (ABSL_PREDICT_TRUE(tsc_ != nullptr)) return static_cast<int64_t>(__rdtsc());
#endif
    return clock_->NowNanos();
  }
  int64_t NanosSince(int64_t stamp) const { return NanosBetween(stamp, Stamp()); }
  int64_t NanosBetween(int64_t start_stamp, int64_t end_stamp) const {
#ifdef VITALS_HAVE_TSC
    if (ABSL_PREDICT_TRUE(tsc_ != nullptr)) {
      return static_cast<int64_t>(static_cast<double>(end_stamp - start_stamp) *
                                  tsc_->nanos_per_tick());
    }
#endif
    return end_stamp - start_stamp;
  }
  // The clock's nanoseconds at a stamp.
  int64_t StampNanos(int64_t stamp) const {
#ifdef VITALS_HAVE_TSC
    if (ABSL_PREDICT_TRUE(tsc_ != nullptr)) return tsc_->NanosAt(static_cast<uint64_t>(stamp));
#endif
    return stamp;
  }

  // Told when each request ends (the database feature's N+1 report); set once by the agent,
  // before any request. May be null.
  void set_observer(RequestObserver* observer) { observer_ = observer; }
  RequestObserver* observer() const { return observer_; }
  // Told of each slow request (automatic profiles); set once by the agent, before any
  // request. May be null.
  void set_slow_listener(SlowRequestListener* listener) { slow_listener_ = listener; }
  // Requests of this agent running now (RequestScope or RequestDbScope) and how long the
  // oldest has run. Lock-free; O(RequestDbs ever made, about the peak concurrency).
  struct InFlight {
    int count = 0;
    int64_t oldest_nanos = 0;
  };
  InFlight RequestsInFlight() const;
  // The last slow requests (the live page's table).
  const SlowRequestRing& slow_requests() const { return slow_ring_; }

 private:
  RequestMetrics(Family* duration, Family* active, Family* slow, Family* db_queries,
                 const Clock* clock, RateLimitedLog* log, int64_t slow_nanos, size_t limit);
  Series* DurationSeriesSlow(RouteEntry* entry, int status);
  void LogSlow(RouteEntry& entry, int status, int64_t nanos);

  Family* const duration_;
  Family* const active_;
  Family* const slow_;
  Family* const db_queries_;
  RequestObserver* observer_ = nullptr;
  SlowRequestListener* slow_listener_ = nullptr;
  SlowRequestRing slow_ring_;
  const Clock* const clock_;
  const TscClock* const tsc_;  // clock_ when it is the TSC clock, else null
  LogThrottle slow_log_;
  const int64_t slow_nanos_;

  internal::Mutex mu_;  // status slots' writers
  EntryTable<RouteEntry> routes_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_REQUESTS_REQUEST_METRICS_H_
