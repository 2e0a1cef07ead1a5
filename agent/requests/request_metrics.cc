#include "agent/requests/request_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/core/family_spec.h"
#include "agent/core/text_escape.h"
#include "agent/requests/call_breakdown.h"

namespace vitals {
namespace internal {

std::vector<double> DbQueriesPerRequestBuckets() {
  // The first bound is 0: RequestDbScope::End counts a request without database calls straight
  // into that bucket.
  return {0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000};
}

absl::StatusOr<std::unique_ptr<RequestMetrics>> RequestMetrics::Create(Registry& registry,
                                                                       const Options& options,
                                                                       const Clock* clock,
                                                                       RateLimitedLog* log) {
  Family *duration = nullptr, *active = nullptr, *slow = nullptr, *db_queries = nullptr;
  absl::Status s = CreateFamilies(
      registry,
      {
          {&duration,
           "http_server_request_duration_seconds",
           "Duration of HTTP server requests, from the first byte handled to the response, by "
           "method, route template and status code.",
           MetricType::kHistogram,
           {"http_request_method", "http_route", "http_response_status_code"},
           options.request_duration_buckets,
           DurationExtras(options.native_histograms, options.exemplars)},
          {&active,
           "http_server_active_requests",
           "HTTP server requests being handled right now.",
           MetricType::kGauge,
           {"http_request_method", "http_route"}},
          {&slow,
           "http_server_slow_requests_total",
           absl::StrCat("HTTP server requests that took at least the slow-request threshold (",
                        absl::FormatDuration(options.slow_request_threshold), ")."),
           MetricType::kCounter,
           {"http_request_method", "http_route"}},
          {&db_queries,
           "http_server_request_db_queries",
           "Database calls each HTTP request made (recorded through vitals/db.h while its "
           "RequestScope was current), by method and route.",
           MetricType::kHistogram,
           {"http_request_method", "http_route"},
           DbQueriesPerRequestBuckets()},
      });
  if (!s.ok()) return s;
  std::unique_ptr<RequestMetrics> m(
      new RequestMetrics(duration, active, slow, db_queries, clock, log,
                         absl::ToInt64Nanoseconds(options.slow_request_threshold),
                         static_cast<size_t>(options.series_limit)));
  s = CreateFamilies(
      registry,
      {{&m->time_,
        "vitals_http_server_request_time_seconds_total",
        "Where HTTP server requests spent their time, by method, route and part: db (database "
        "calls through vitals/db.h), outbound (calls through vitals/client.h) and self (the "
        "rest). Calls that overlap are counted once.",
        MetricType::kCounter,
        {"http_request_method", "http_route", "part"}},
       {&m->sequential_,
        "vitals_http_server_sequential_calls_total",
        absl::StrCat("HTTP server requests that made at least ", options.sequential_calls_min,
                     " database or outbound calls one after another, none overlapping, together "
                     "at least ",
                     options.sequential_calls_percent,
                     "% of the request: calls that could perhaps run concurrently."),
        MetricType::kCounter,
        {"http_request_method", "http_route"}}});
  if (!s.ok()) return s;
  m->sequential_min_calls_ = options.sequential_calls_min;
  m->sequential_min_share_ = options.sequential_calls_percent / 100.0;
  m->SetRouteSeries(m->routes_.overflow(), /*overflow=*/true);
  if (options.body_sizes) {
    const std::vector<std::string> labels = {"http_request_method", "http_route",
                                             "http_response_status_code"};
    s = CreateFamilies(registry,
                       {{&m->request_size_, "http_server_request_body_size_bytes",
                         "Size of HTTP server request bodies (OpenTelemetry's "
                         "http.server.request.body.size), by method, route and status code.",
                         MetricType::kHistogram, labels, BodySizeBuckets()},
                        {&m->response_size_, "http_server_response_body_size_bytes",
                         "Size of HTTP server response bodies (OpenTelemetry's "
                         "http.server.response.body.size), by method, route and status code.",
                         MetricType::kHistogram, labels, BodySizeBuckets()}});
    if (!s.ok()) return s;
  }
  RequestMetrics* raw = m.get();
  m->registry_ = &registry;
  m->refresher_ =
      registry.AddRefresher("http_server_active_requests", [raw] { raw->RefreshActive(); });
  return m;
}

RequestMetrics::~RequestMetrics() {
  if (registry_ != nullptr) registry_->RemoveRefresher(refresher_);
}

void RequestMetrics::RefreshActive() {
  routes_.ForEach([](RouteEntry& e) { e.in_flight = 0; });
  for (const RequestDb* db = FirstRequestDb(); db != nullptr; db = db->next_created) {
    if (db->owner.load(std::memory_order_acquire) != this) continue;
    // Every RequestDb this agent owns was handed out for one of its routes: a RouteEntry.
    const RouteLabels* route = db->route.load(std::memory_order_relaxed);
    if (route != nullptr)
      ++const_cast<RouteEntry*>(static_cast<const RouteEntry*>(route))->in_flight;
  }
  routes_.ForEach([](RouteEntry& e) { Family::SetBase(e.active, e.in_flight); });
}

RequestMetrics::RequestMetrics(Family* duration, Family* active, Family* slow, Family* db_queries,
                               const Clock* clock, RateLimitedLog* log, int64_t slow_nanos,
                               size_t limit)
    : duration_(duration),
      active_(active),
      slow_(slow),
      db_queries_(db_queries),
      clock_(clock),
      tsc_(AsTscClock(clock)),
      slow_log_(log, clock, absl::Minutes(1)),
      slow_nanos_(slow_nanos),
      routes_(limit) {
  slow_stamps_ = slow_nanos_;
#ifdef VITALS_HAVE_TSC
  if (tsc_ != nullptr) {
    seconds_per_stamp_ = tsc_->nanos_per_tick() * 1e-9;
    slow_stamps_ =
        static_cast<int64_t>(std::ceil(static_cast<double>(slow_nanos_) / tsc_->nanos_per_tick()));
  }
#endif
  RouteEntry& overflow = routes_.overflow();
  overflow.method = std::string(kOverflowLabelValue);
  overflow.route = std::string(kOverflowLabelValue);
  overflow.overflow = true;
  overflow.active = active_->overflow_series_unmarked();
  overflow.slow = slow_->overflow_series_unmarked();
  overflow.db_queries = db_queries_->overflow_series_unmarked();
}

RouteEntry* RequestMetrics::FindRoute(absl::string_view method, absl::string_view route) {
  const absl::string_view key[2] = {NormalizeMethod(method), route};
  return routes_.Find(
      key,
      [&] {
        auto entry = std::make_unique<RouteEntry>();
        entry->method = std::string(key[0]);
        entry->route = RepairUtf8(route, kMaxLabelValueBytes);
        entry->active = active_->Find(key);
        entry->slow = slow_->Find(key);
        entry->db_queries = db_queries_->Find(key);
        SetRouteSeries(*entry, /*overflow=*/false);
        return entry;
      },
      [this] {
        // Past the route limit: every family of the request metrics folds this lookup.
        duration_->NoteOverflow();
        active_->NoteOverflow();
        slow_->NoteOverflow();
        db_queries_->NoteOverflow();
        active_->overflow_series();  // marks them used, so they are emitted
        slow_->overflow_series();
        db_queries_->overflow_series();
      });
}

Series* RequestMetrics::StatusSeries(Family* family, SeriesSlots& slots, RouteEntry* entry,
                                     int status) {
  if (entry->overflow) return family->overflow_series();
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof buf, status);
  const absl::string_view values[3] = {entry->method, entry->route,
                                       absl::string_view(buf, r.ptr - buf)};
  Series* series = family->Find(values);
  if (series->overflow) return series;  // do not cache: each lookup is counted
  if (status < 0) return series;        // not remembered: keys are non-negative
  internal::MutexLock lock(&mu_);
  slots.Remember(status, series);  // all slots taken: the hashed lookup stays
  return series;
}

void RequestMetrics::RecordBodySizes(RouteEntry* entry, int status, int64_t request_bytes,
                                     int64_t response_bytes) {
  if (request_size_ == nullptr) return;
  auto observe = [&](Family* family, SeriesSlots& slots, int64_t bytes) {
    if (bytes >= 0)
      ObserveInto(*SeriesOf(family, slots, entry, status), static_cast<double>(bytes));
  };
  observe(request_size_, entry->request_size_by_status, request_bytes);
  observe(response_size_, entry->response_size_by_status, response_bytes);
}

std::vector<double> BodySizeBuckets() {
  return {64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216};
}

void RequestMetrics::OfferExemplar(Series* series, uint32_t bucket, double seconds,
                                   const TraceContext& trace, int64_t end_nanos) {
  Family::OfferExemplar(series, bucket, seconds, trace, end_nanos);
}

void RequestMetrics::RecordSlow(RouteEntry* entry, int status, int64_t nanos) {
  AddToSeries(*entry->slow, 1.0);
  const int64_t now = clock_->NowNanos();
  LogSlow(*entry, status, nanos);
  slow_ring_.Add(entry, status, nanos, now);
  if (slow_listener_ != nullptr) slow_listener_->SlowRequest(*entry, now);
}

RequestMetrics::InFlight RequestMetrics::RequestsInFlight() const {
  InFlight in_flight;
  for (const RequestDb* db = FirstRequestDb(); db != nullptr; db = db->next_created) {
    if (db->owner.load(std::memory_order_acquire) != this) continue;
    const int64_t started = db->started.load(std::memory_order_relaxed);
    ++in_flight.count;
    in_flight.oldest_nanos = std::max(in_flight.oldest_nanos, NanosSince(started));
  }
  return in_flight;
}

void RequestMetrics::SetRouteSeries(RouteEntry& entry, bool overflow) {
  for (int part = 0; part < kTimeParts; ++part) {
    if (overflow) {
      entry.time_parts[part] = time_->overflow_series_unmarked();
    } else {
      const absl::string_view key[3] = {entry.method, entry.route, kTimePartNames[part]};
      entry.time_parts[part] = time_->Find(key);
    }
  }
  if (overflow) {
    entry.sequential = sequential_->overflow_series_unmarked();
  } else {
    const absl::string_view key[2] = {entry.method, entry.route};
    entry.sequential = sequential_->Find(key);
  }
}

namespace {
// The breakdown of the last request that made calls on this thread, kept until its duration
// is recorded (the sequential-call line lists its calls). Touched only by requests with calls.
thread_local CallBreakdown tls_breakdown;
}  // namespace

void RequestMetrics::EndCalls(RouteEntry* entry, const RequestDb& db, ThreadRequests& thread) {
  CallBreakdown& b = tls_breakdown;
  BreakDown(db, sequential_min_calls_, &b);
  for (int k = 0; k < kCallKinds; ++k) {
    if (b.part_nanos[k] > 0) AddToSeries(*entry->time_parts[k], ObservedSeconds(b.part_nanos[k]));
  }
  thread.pending_route = entry;  // FinishCalls reads the rest from tls_breakdown
}

double RequestMetrics::FinishCalls(RouteEntry* entry, ThreadRequests& thread, double seconds,
                                   int64_t nanos) {
  thread.pending_route = nullptr;
  if (Sequential(tls_breakdown, nanos, sequential_min_share_)) {
    AddToSeries(*entry->sequential, 1.0);
    LogSequential(*entry, nanos);
  }
  return std::max(0.0, seconds - ObservedSeconds(tls_breakdown.calls_nanos()));
}

void RequestMetrics::LogSequential(RouteEntry& entry, int64_t nanos) {
  // At most one line per route a minute, lock-free, like the slow-request line.
  slow_log_.Log(entry.sequential_log, LogSeverity::kWarning, [&] {
    const CallBreakdown& b = tls_breakdown;
    std::string route;
    AppendEscapedLabelValue(route, entry.route);
    std::string line = absl::StrFormat(
        "sequential calls: method=%s route=\"%s\" calls=%d calls_ms=%.1f duration_ms=%.1f "
        "(none overlapped; could they run concurrently?):",
        entry.method, route, b.logged, static_cast<double>(b.sum_of_calls_nanos) / 1e6,
        static_cast<double>(nanos) / 1e6);
    for (int i = 0; i < b.logged; ++i) {
      const LoggedCall& c = b.calls[i];
      std::string what;
      AppendEscapedLabelValue(
          what, c.what != nullptr ? absl::string_view(*c.what) : absl::string_view("(unknown)"));
      absl::StrAppendFormat(&line, " %s \"%s\" %.1fms;", kTimePartNames[static_cast<int>(c.kind)],
                            what.substr(0, 200), static_cast<double>(c.end - c.start) / 1e6);
    }
    return line;
  });
}

void RequestMetrics::LogSlow(RouteEntry& entry, int status, int64_t nanos) {
  // At most one line per route a minute, lock-free (a slow-request storm must not serialize
  // its requests on a mutex); the line says how many slow requests it stands for.
  slow_log_.Log(entry.slow_log, LogSeverity::kWarning, [&] {
    std::string route;
    AppendEscapedLabelValue(route, entry.route);
    return absl::StrFormat("slow request: method=%s route=\"%s\" status=%d duration_ms=%.1f",
                           entry.method, route, status, static_cast<double>(nanos) / 1e6);
  });
}

}  // namespace internal
}  // namespace vitals
