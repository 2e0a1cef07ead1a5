// agent/requests/request_metrics.h: the built-in request metrics behind RequestScope, RouteHandle
// and Agent::Record, and (a second instance, RequestKind::kRpc) behind RpcCallScope.
//
// An RPC server call is timed, counted in flight and given database and outbound calls exactly
// as an HTTP request is; only the families' names and labels differ (the key (method, route) is
// (rpc.system.name, rpc.method) there, and a status is a gRPC code written by name), and RPCs
// have four more families: calls started, and messages per call and per message size.
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

// The parts of a request's time (vitals_http_server_request_time_seconds_total{part}): its
// database calls, its outbound calls (CallKind's order) and its own.
inline constexpr int kTimeParts = 3;
inline constexpr int kSelfPart = 2;
inline constexpr const char* kTimePartNames[kTimeParts] = {"db", "outbound", "self"};

// What one RequestMetrics times.
enum class RequestKind {
  kHttp,  // HTTP server requests: http_server_* (and vitals_http_server_*)
  kRpc,   // RPC server calls: rpc_server_* (and vitals_rpc_server_*)
};

// An RPC call's two directions, for its message series.
enum RpcDirection { kRpcReceived = 0, kRpcSent = 1 };

struct RouteEntry : RouteLabels {
  // http_server_active_requests: the requests in flight on this route, counted from the
  // RequestDbs at each render (RefreshActive), plus RouteHandle::AddActive's adds in its cells.
  Series* active = nullptr;
  int in_flight = 0;  // RefreshActive's tally (under the registry's refresh lock)
  Series* slow = nullptr;
  // http_server_request_db_queries; a request without database calls adds 1 to the count of
  // its le="0" bucket (pair(0)), and nothing to the sum.
  Series* db_queries = nullptr;
  bool overflow = false;
  SeriesSlots by_status;  // the duration series of each status code seen
  // The body-size series of each status code seen (Options::body_sizes only).
  SeriesSlots request_size_by_status;
  SeriesSlots response_size_by_status;
  LogThrottle::Gate slow_log;  // one slow-request line per route a minute; slow requests only
  // vitals_http_server_request_time_seconds_total by part, and
  // vitals_http_server_sequential_calls_total.
  Series* time_parts[kTimeParts] = {};
  Series* sequential = nullptr;
  LogThrottle::Gate sequential_log;  // one sequential-calls line per route a minute
  // RequestKind::kRpc only (null otherwise): calls started, the messages of a call by
  // direction (rpc_server_requests_per_rpc, ..._responses_...) and the size of each message by
  // direction (rpc_server_request_size_bytes, ..._response_...).
  Series* started = nullptr;
  Series* messages[2] = {};
  Series* message_bytes[2] = {};
};

class RequestMetrics {
 public:
  // Creates the families of `kind` in `registry`. Fails only on invalid options.
  static absl::StatusOr<std::unique_ptr<RequestMetrics>> Create(
      Registry& registry, const Options& options, const Clock* clock, RateLimitedLog* log,
      RequestKind kind = RequestKind::kHttp);
  ~RequestMetrics();

  // The entry of (method, route): for kRpc, (rpc.system.name, rpc.method), both taken as given
  // (repaired and cut like any label value).
  RouteEntry* FindRoute(absl::string_view method, absl::string_view route);
  RequestKind kind() const { return kind_; }
  // `trace`, when not null (and valid), is offered as the duration bucket's exemplar, timed at
  // the request's end.
  // Records a request that took `nanos`: one status-slot probe and one histogram observe, inline
  // (the rest only for traced or slow requests).
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Record(RouteEntry* entry, int status, int64_t nanos,
                                           const TraceContext* trace = nullptr) {
    Series* series = DurationSeries(entry, status);
    const double seconds = ObservedSeconds(nanos);
    const uint32_t bucket = ObserveInto(*series, seconds);
    AddSelfTime(entry, seconds, nanos);
    if (ABSL_PREDICT_FALSE(trace != nullptr)) {
      OfferExemplar(series, bucket, seconds, *trace, clock_->NowNanos());
    }
    if (ABSL_PREDICT_FALSE(nanos >= slow_nanos_)) RecordSlow(entry, status, nanos);
  }
  // The same for a request timed by two Stamp()s: its seconds straight from the stamps (one
  // conversion, clamped as ObservedSeconds does), its slowness judged in stamp units.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void RecordStamps(RouteEntry* entry, int status, int64_t start_stamp,
                                                 int64_t end_stamp, const TraceContext* trace) {
    Series* series = DurationSeries(entry, status);
    const int64_t stamps = end_stamp - start_stamp;
    const double seconds = ObservedSeconds(stamps, seconds_per_stamp_);
    ABSL_ASSUME(seconds == seconds);  // an integer times a finite constant: ObserveInto's NaN
                                      // test folds away
    const uint32_t bucket = ObserveInto(*series, seconds);
    AddSelfTime(entry, seconds, -1, start_stamp, end_stamp);
    if (ABSL_PREDICT_FALSE(trace != nullptr)) {
      OfferExemplar(series, bucket, seconds, *trace, StampNanos(end_stamp));
    }
    if (ABSL_PREDICT_FALSE(stamps >= slow_stamps_)) {
      RecordSlow(entry, status, NanosBetween(start_stamp, end_stamp));
    }
  }
  // Adds a request's own time to its route's "self" part: its `seconds`, less what its calls
  // took when this thread ended the bookkeeping of a request on `entry` that made calls (then
  // also the sequential-call check, which needs the wall time: `nanos`, or the stamps when it
  // is -1). One thread-local load and one per-CPU add for a request without calls.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void AddSelfTime(RouteEntry* entry, double seconds, int64_t nanos,
                                                int64_t start_stamp = 0, int64_t end_stamp = 0) {
    ThreadRequests& thread = ThisThreadRequests();
    if (ABSL_PREDICT_FALSE(thread.pending_route == entry)) {
      seconds = FinishCalls(entry, thread, seconds,
                            nanos >= 0 ? nanos : NanosBetween(start_stamp, end_stamp));
    }
    AddToSeries(*entry->time_parts[kSelfPart], seconds);
  }
  // Ends the bookkeeping of the calls of a request on `entry` whose RequestDb `db` says it made
  // some: adds their parts, and leaves the rest to AddSelfTime on this thread.
  void EndCalls(RouteEntry* entry, const RequestDb& db, ThreadRequests& thread);

  // The duration series of `status` on `entry`: a slot probe, or the family's lookup the first
  // time.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Series* DurationSeries(RouteEntry* entry, int status) {
    return SeriesOf(duration_, entry->by_status, entry, status);
  }
  // The series of `status` on `entry` in `family` (method, route, status labels): a probe of
  // `slots`, or the family's lookup the first time (remembered in `slots`).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Series* SeriesOf(Family* family, SeriesSlots& slots,
                                                RouteEntry* entry, int status) {
    Series* series = slots.Find(status);
    if (ABSL_PREDICT_FALSE(series == nullptr)) series = StatusSeries(family, slots, entry, status);
    return series;
  }
  // A start stamp and the nanoseconds since it: with the TSC clock, raw ticks converted once
  // at the end (no virtual call, one conversion per request); else clock().NowNanos().
  int64_t Stamp() const { return StampOf(RawStamp()); }
  // Stamp() in two halves, for the request path: the raw counter read first, before any load
  // (on x86 the TSC read waits for every instruction before it, so work put ahead of it
  // lengthens the request; nothing waits for work behind it), then the stamp it makes for this
  // agent's clock, which is that read unless the clock is not the TSC.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static int64_t RawStamp() {
#ifdef VITALS_HAVE_TSC
    return static_cast<int64_t>(__rdtsc());
#else
    return 0;
#endif
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE int64_t StampOf(int64_t raw) const {
#ifdef VITALS_HAVE_TSC
    if (ABSL_PREDICT_TRUE(tsc_ != nullptr)) return raw;
#endif
    (void)raw;
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

  // Records a request's body sizes in bytes (a negative size: unknown, not recorded) when
  // Options::body_sizes is on; nothing otherwise. One histogram observe per size, after a
  // status-slot probe. Out of line: only requests that carry sizes call it.
  void RecordBodySizes(RouteEntry* entry, int status, int64_t request_bytes,
                       int64_t response_bytes);

  // kRpc (nothing for HTTP entries): a call started on `entry` (one per-CPU add); a message of
  // `bytes` in `direction` (one histogram observe); a finished call's message counts (two).
  ABSL_ATTRIBUTE_ALWAYS_INLINE static void CountStarted(RouteEntry* entry) {
    if (entry->started != nullptr) AddToSeries(*entry->started, 1.0);
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE static void RecordMessage(RouteEntry* entry, RpcDirection direction,
                                                         int64_t bytes) {
    if (entry->message_bytes[direction] != nullptr && bytes >= 0) {
      ObserveInto(*entry->message_bytes[direction], static_cast<double>(bytes));
    }
  }
  static void RecordMessageCounts(RouteEntry* entry, int64_t received, int64_t sent);

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
  RequestMetrics(RequestKind kind, Family* duration, Family* active, Family* slow,
                 Family* db_queries, const Clock* clock, RateLimitedLog* log, int64_t slow_nanos,
                 size_t limit);
  // The RPC families (kRpc only), and an entry's series in them.
  absl::Status CreateRpcFamilies(Registry& registry);
  void SetRpcSeries(RouteEntry& entry, bool overflow);
  // SeriesOf's first lookup of a status, out of line.
  Series* StatusSeries(Family* family, SeriesSlots& slots, RouteEntry* entry, int status);
  // Record's rare parts, out of line.
  void OfferExemplar(Series* series, uint32_t bucket, double seconds, const TraceContext& trace,
                     int64_t end_nanos);
  void RecordSlow(RouteEntry* entry, int status, int64_t nanos);
  // Resolves the breakdown's series of a route (the overflow route: the overflow series).
  void SetRouteSeries(RouteEntry& entry, bool overflow);
  // AddSelfTime's rare part: the request's own seconds, and its sequential-call check.
  double FinishCalls(RouteEntry* entry, ThreadRequests& thread, double seconds, int64_t nanos);
  void LogSequential(RouteEntry& entry, int64_t nanos);
  // Sets every route's active-requests gauge to its requests in flight (a refresher: before
  // each render). A request costs no add for it: it is in flight while its RequestDb says so.
  void RefreshActive();
  void LogSlow(RouteEntry& entry, int status, int64_t nanos);

  const RequestKind kind_;
  Family* const duration_;
  Family* const active_;
  Family* const slow_;
  Family* const db_queries_;
  Family* time_ = nullptr;        // vitals_http_server_request_time_seconds_total
  Family* sequential_ = nullptr;  // vitals_http_server_sequential_calls_total
  int sequential_min_calls_ = 3;
  double sequential_min_share_ = 0.5;
  Family* request_size_ = nullptr;   // http_server_request_body_size_bytes, or null (off)
  Family* response_size_ = nullptr;  // http_server_response_body_size_bytes, or null (off)
  // kRpc only: calls started, messages per call and message sizes by RpcDirection.
  Family* started_ = nullptr;
  Family* messages_[2] = {};
  Family* message_bytes_[2] = {};
  Registry* registry_ = nullptr;
  uint64_t refresher_ = 0;
  RequestObserver* observer_ = nullptr;
  SlowRequestListener* slow_listener_ = nullptr;
  SlowRequestRing slow_ring_;
  const Clock* const clock_;
  const TscClock* const tsc_;  // clock_ when it is the TSC clock, else null
  LogThrottle slow_log_;
  const int64_t slow_nanos_;
  double seconds_per_stamp_ = 1e-9;  // 1e-9, or the TSC clock's seconds per tick
  int64_t slow_stamps_ = 0;          // slow_nanos_ in stamp units (rounded up)

  internal::Mutex mu_;  // status slots' writers
  EntryTable<RouteEntry> routes_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_REQUESTS_REQUEST_METRICS_H_
