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

namespace {

// The family names, label names and words of a RequestKind.
struct KindText {
  const char* duration;
  const char* duration_help;
  const char* active;
  const char* active_help;
  const char* slow;
  const char* slow_help;  // followed by " (threshold)."
  const char* db_queries;
  const char* db_queries_help;
  const char* time;
  const char* time_help;
  const char* sequential;
  const char* sequential_help;  // "<this> that made at least N ..."
  const char* method_label;
  const char* route_label;
  const char* status_label;
};

constexpr KindText kHttpText = {
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests, from the first byte handled to the response, by method, "
    "route template and status code.",
    "http_server_active_requests",
    "HTTP server requests being handled right now.",
    "http_server_slow_requests_total",
    "HTTP server requests that took at least the slow-request threshold",
    "http_server_request_db_queries",
    "Database calls each HTTP request made (recorded through vitals/db.h while its RequestScope "
    "was current), by method and route.",
    "vitals_http_server_request_time_seconds_total",
    "Where HTTP server requests spent their time, by method, route and part: db (database calls "
    "through vitals/db.h), outbound (calls through vitals/client.h) and self (the rest). Calls "
    "that overlap are counted once.",
    "vitals_http_server_sequential_calls_total",
    "HTTP server requests",
    "http_request_method",
    "http_route",
    "http_response_status_code",
};

constexpr KindText kRpcText = {
    "rpc_server_call_duration_seconds",
    "Duration of RPC server calls, from the call's start to its status (a stream's whole life), "
    "by RPC system, method, status code and error type (OpenTelemetry's rpc.server.call.duration, "
    "semantic conventions v1.45.0).",
    "vitals_rpc_server_active_calls",
    "RPC server calls being handled right now.",
    "vitals_rpc_server_slow_calls_total",
    "RPC server calls that took at least the slow-request threshold",
    "vitals_rpc_server_call_db_queries",
    "Database calls each RPC server call made (recorded through vitals/db.h while the call was "
    "current), by RPC system and method.",
    "vitals_rpc_server_call_time_seconds_total",
    "Where RPC server calls spent their time, by RPC system, method and part: db (database calls "
    "through vitals/db.h), outbound (calls through vitals/client.h or the gRPC client "
    "interceptor) and self (the rest). Calls that overlap are counted once.",
    "vitals_rpc_server_sequential_calls_total",
    "RPC server calls",
    "rpc_system_name",
    "rpc_method",
    "rpc_status_code",
};

const KindText& TextOf(RequestKind kind) {
  return kind == RequestKind::kRpc ? kRpcText : kHttpText;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RequestMetrics>> RequestMetrics::Create(Registry& registry,
                                                                       const Options& options,
                                                                       const Clock* clock,
                                                                       RateLimitedLog* log,
                                                                       RequestKind kind) {
  const KindText& text = TextOf(kind);
  const std::string method = text.method_label, route = text.route_label;
  std::vector<std::string> duration_labels = {method, route, text.status_label};
  if (kind == RequestKind::kRpc) duration_labels.push_back("error_type");
  Family *duration = nullptr, *active = nullptr, *slow = nullptr, *db_queries = nullptr;
  absl::Status s = CreateFamilies(
      registry, {
                    {&duration, text.duration, text.duration_help, MetricType::kHistogram,
                     duration_labels, options.request_duration_buckets,
                     DurationExtras(options.native_histograms, options.exemplars)},
                    {&active, text.active, text.active_help, MetricType::kGauge, {method, route}},
                    {&slow,
                     text.slow,
                     absl::StrCat(text.slow_help, " (",
                                  absl::FormatDuration(options.slow_request_threshold), ")."),
                     MetricType::kCounter,
                     {method, route}},
                    {&db_queries,
                     text.db_queries,
                     text.db_queries_help,
                     MetricType::kHistogram,
                     {method, route},
                     DbQueriesPerRequestBuckets()},
                });
  if (!s.ok()) return s;
  std::unique_ptr<RequestMetrics> m(
      new RequestMetrics(kind, duration, active, slow, db_queries, clock, log,
                         absl::ToInt64Nanoseconds(options.slow_request_threshold),
                         static_cast<size_t>(options.series_limit)));
  s = CreateFamilies(
      registry,
      {{&m->time_, text.time, text.time_help, MetricType::kCounter, {method, route, "part"}},
       {&m->sequential_,
        text.sequential,
        absl::StrCat(text.sequential_help, " that made at least ", options.sequential_calls_min,
                     " database or outbound calls one after another, none overlapping, together "
                     "at least ",
                     options.sequential_calls_percent,
                     "% of the request: calls that could perhaps run concurrently."),
        MetricType::kCounter,
        {method, route}}});
  if (!s.ok()) return s;
  if (kind == RequestKind::kRpc) {
    if (s = m->CreateRpcFamilies(registry); !s.ok()) return s;
  }
  m->sequential_min_calls_ = options.sequential_calls_min;
  m->sequential_min_share_ = options.sequential_calls_percent / 100.0;
  m->SetRouteSeries(m->routes_.overflow(), /*overflow=*/true);
  if (options.body_sizes && kind == RequestKind::kHttp) {
    const std::vector<std::string> labels = {"http_request_method", "http_route",
                                             "http_response_status_code"};
    s = CreateFamilies(registry,
                       {{&m->request_size_, "http_server_request_body_size_bytes",
                         "Size of HTTP server request bodies (OpenTelemetry's "
                         "http.server.request.body.size), by method, route and status code.",
                         MetricType::kHistogram, labels, ByteSizeBuckets()},
                        {&m->response_size_, "http_server_response_body_size_bytes",
                         "Size of HTTP server response bodies (OpenTelemetry's "
                         "http.server.response.body.size), by method, route and status code.",
                         MetricType::kHistogram, labels, ByteSizeBuckets()}});
    if (!s.ok()) return s;
  }
  RequestMetrics* raw = m.get();
  m->registry_ = &registry;
  m->refresher_ = registry.AddRefresher(text.active, [raw] { raw->RefreshActive(); });
  return m;
}

absl::Status RequestMetrics::CreateRpcFamilies(Registry& registry) {
  const std::vector<std::string> labels = {kRpcText.method_label, kRpcText.route_label};
  absl::Status s = CreateFamilies(
      registry,
      {{&started_, "vitals_rpc_server_calls_started_total",
        "RPC server calls started, by RPC system and method (gRPC's grpc.server.call.started).",
        MetricType::kCounter, labels},
       {&messages_[kRpcReceived], "rpc_server_requests_per_rpc",
        "Messages received per RPC server call (OpenTelemetry's rpc.server.requests_per_rpc, "
        "semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, MessagesPerCallBuckets()},
       {&messages_[kRpcSent], "rpc_server_responses_per_rpc",
        "Messages sent per RPC server call (OpenTelemetry's rpc.server.responses_per_rpc, "
        "semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, MessagesPerCallBuckets()},
       {&message_bytes_[kRpcReceived], "rpc_server_request_size_bytes",
        "Size of each message an RPC server call received, serialized and uncompressed "
        "(OpenTelemetry's rpc.server.request.size, semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, ByteSizeBuckets()},
       {&message_bytes_[kRpcSent], "rpc_server_response_size_bytes",
        "Size of each message an RPC server call sent, serialized and uncompressed "
        "(OpenTelemetry's rpc.server.response.size, semantic conventions v1.37.0).",
        MetricType::kHistogram, labels, ByteSizeBuckets()}});
  if (!s.ok()) return s;
  SetRpcSeries(routes_.overflow(), /*overflow=*/true);
  return absl::OkStatus();
}

void RequestMetrics::SetRpcSeries(RouteEntry& entry, bool overflow) {
  if (started_ == nullptr) return;
  const absl::string_view key[2] = {entry.method, entry.route};
  auto series = [&](Family* f) { return overflow ? f->overflow_series_unmarked() : f->Find(key); };
  entry.started = series(started_);
  for (int d = 0; d < 2; ++d) {
    entry.messages[d] = series(messages_[d]);
    entry.message_bytes[d] = series(message_bytes_[d]);
  }
}

void RequestMetrics::RecordMessageCounts(RouteEntry* entry, int64_t received, int64_t sent) {
  const int64_t counts[2] = {received, sent};
  for (int d = 0; d < 2; ++d) {
    if (entry->messages[d] != nullptr && counts[d] >= 0) {
      ObserveInto(*entry->messages[d], static_cast<double>(counts[d]));
    }
  }
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

RequestMetrics::RequestMetrics(RequestKind kind, Family* duration, Family* active, Family* slow,
                               Family* db_queries, const Clock* clock, RateLimitedLog* log,
                               int64_t slow_nanos, size_t limit)
    : kind_(kind),
      duration_(duration),
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
  const absl::string_view key[2] = {kind_ == RequestKind::kHttp ? NormalizeMethod(method) : method,
                                    route};
  return routes_.Find(
      key,
      [&] {
        auto entry = std::make_unique<RouteEntry>();
        entry->method = RepairUtf8(key[0], kMaxLabelValueBytes);
        entry->route = RepairUtf8(route, kMaxLabelValueBytes);
        entry->active = active_->Find(key);
        entry->slow = slow_->Find(key);
        entry->db_queries = db_queries_->Find(key);
        SetRouteSeries(*entry, /*overflow=*/false);
        SetRpcSeries(*entry, /*overflow=*/false);
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
        if (started_ != nullptr) {
          for (Family* f :
               {started_, messages_[0], messages_[1], message_bytes_[0], message_bytes_[1]}) {
            f->NoteOverflow();
            f->overflow_series();
          }
        }
      });
}

Series* RequestMetrics::StatusSeries(Family* family, SeriesSlots& slots, RouteEntry* entry,
                                     int status) {
  if (entry->overflow) return family->overflow_series();
  char buf[16];
  Series* series;
  if (kind_ == RequestKind::kRpc && family == duration_) {
    // rpc.status_code by name, and error.type (the code's name) when the server failed.
    const absl::string_view code = GrpcCodeName(status, buf);
    const absl::string_view values[4] = {entry->method, entry->route, code,
                                         GrpcServerError(status) ? code : absl::string_view()};
    series = family->Find(values);
  } else {
    auto r = std::to_chars(buf, buf + sizeof buf, status);
    const absl::string_view values[3] = {entry->method, entry->route,
                                         absl::string_view(buf, r.ptr - buf)};
    series = family->Find(values);
  }
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
        "sequential calls: %s=%s %s=\"%s\" calls=%d calls_ms=%.1f duration_ms=%.1f "
        "(none overlapped; could they run concurrently?):",
        kind_ == RequestKind::kRpc ? "rpc_system" : "method", entry.method,
        kind_ == RequestKind::kRpc ? "rpc_method" : "route", route, b.logged,
        static_cast<double>(b.sum_of_calls_nanos) / 1e6, static_cast<double>(nanos) / 1e6);
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
    if (kind_ == RequestKind::kRpc) {
      char buf[16];
      return absl::StrFormat("slow RPC: rpc_system=%s rpc_method=\"%s\" status=%s duration_ms=%.1f",
                             entry.method, route, GrpcCodeName(status, buf),
                             static_cast<double>(nanos) / 1e6);
    }
    return absl::StrFormat("slow request: method=%s route=\"%s\" status=%d duration_ms=%.1f",
                           entry.method, route, status, static_cast<double>(nanos) / 1e6);
  });
}

}  // namespace internal
}  // namespace vitals
