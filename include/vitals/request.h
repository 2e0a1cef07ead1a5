// vitals/request.h: timing HTTP (or RPC) requests.
//
// Three ways to record a request, from most convenient to fastest:
//   1. `agent.Record(method, route, status, duration)` when the duration is already known;
//   2. `RequestScope scope(agent, method, route);` times the request and records it when the
//      scope ends (set the status before that);
//   3. `RouteHandle h = agent.Route("GET", "/users/:id");` once, then `RequestScope scope(h);`
//      or `h.Record(status, duration)` per request: no hashing, no lookup.
// Each recorded request updates `http_server_request_duration_seconds{http_request_method,
// http_route,http_response_status_code}`, `http_server_active_requests{http_request_method,
// http_route}` (scopes only), and, at or above the slow threshold,
// `http_server_slow_requests_total{http_request_method,http_route}` plus a warning line (at most
// one per route a minute).
//
// `route` must be the route template (`/users/:id`), never the raw path, or a scanner could
// create unbounded series; the series limit caps the damage if it happens anyway. `method` is
// normalized to the standard methods (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE,
// PATCH, case-insensitive) and `_OTHER` for anything else, as OpenTelemetry does.
//
// Thread-safety: all calls may be made from any thread at once. A `RequestScope` belongs to one
// request; it may end on a different thread than it started on.
// Lifetime: handles and scopes may outlive their agent; once it is destroyed they record nothing
// (vitals/detail/agent_life.h). The agent must not be destroyed while other threads record.

#ifndef VITALS_REQUEST_H_
#define VITALS_REQUEST_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/detail/agent_life.h"
#include "vitals/detail/cells.h"
#include "vitals/detail/export.h"
#include "vitals/trace_context.h"

namespace vitals {

class Agent;

namespace internal {
class RequestMetrics;
struct RequestDb;
struct RouteEntry;
}  // namespace internal

// A reading of the clock requests are timed with (the TSC with the default clock, about 10 ns;
// else the agent's clock), from `Agent::RequestStampNow()`: for adapters whose server routes a
// request after it began (vitals/httplib.h reads one when a request's head has been read and one
// when its answer has been written). Give it only to handles and scopes of the agent it came
// from. Trivially copyable; a default-constructed one is no reading (a request timed with it is
// recorded with a duration that means nothing).
class VITALS_EXPORT RequestStamp {
 public:
  RequestStamp() = default;

 private:
  friend class Agent;
  friend class RouteHandle;
  friend class RequestDbScope;
  explicit RequestStamp(int64_t stamp) : stamp_(stamp) {}
  int64_t stamp_ = 0;  // a RequestMetrics stamp of the agent it came from
};

// A pre-resolved (method, route) pair. Cheap to copy; records nothing once its agent is gone.
class VITALS_EXPORT RouteHandle {
 public:
  RouteHandle() = default;  // records nothing

  // Records one finished request. Cost: the life-token check (one load), one status-slot probe
  // (a few ns), one histogram observe on per-CPU cells, and for slow requests a counter add and a
  // log check. No lock.
  void Record(int status, absl::Duration duration) const;
  // Same, and offers `trace` as the exemplar of the duration's bucket (Options::exemplars):
  // one more clock read and two loads of the bucket's exemplar slot, which it replaces (a
  // compare-and-swap and six stores) only when that exemplar is at least 100 ms old. No lock,
  // no allocation. An invalid trace records no exemplar.
  void Record(int status, absl::Duration duration, const TraceContext& trace) const;
  // Records one request timed by two stamps (Agent::RequestStampNow): the `Record` cost, the
  // duration taken straight from the stamps (one multiplication, no clock read).
  void Record(int status, RequestStamp start, RequestStamp end) const;
  void Record(int status, RequestStamp start, RequestStamp end, const TraceContext& trace) const;

  // Records one request's body sizes in bytes when Options::body_sizes is on (nothing
  // otherwise): `http_server_request_body_size_bytes` and `..._response_...` by status. A
  // negative size means unknown and is not recorded. Cost when on: a status-slot probe and one
  // histogram observe per size; when off, one call that returns. No lock.
  void RecordBodySizes(int status, int64_t request_bytes, int64_t response_bytes) const;

  // Adds `delta` to this route's `http_server_active_requests`, for adapters that time requests
  // themselves without a RequestScope or RequestDbScope (a request inside either counts as in
  // flight on its own: the gauge is the requests whose bookkeeping is handed out, counted at each
  // render, plus these adds). Same cost as a counter increment.
  void AddActive(double delta) const;

  // True while it names a route of an agent that is alive.
  bool valid() const { return internal::AgentAlive(life_); }

 private:
  friend class Agent;
  friend class RequestScope;
  friend class RequestDbScope;
  friend class RpcCallScope;
  RouteHandle(internal::RequestMetrics* metrics, internal::RouteEntry* route, uint64_t life)
      : metrics_(metrics), route_(route), life_(route != nullptr ? life : 0) {}
  internal::RequestMetrics* metrics_ = nullptr;
  internal::RouteEntry* route_ = nullptr;
  uint64_t life_ = 0;  // the agent's token (vitals/detail/agent_life.h)
};

// Makes a request current on this thread for database accounting (vitals/db.h) without timing
// it, from construction to `End()` or destruction; then observes
// `http_server_request_db_queries` for the route and reports an N+1 detection. Meanwhile the
// request is in flight: it counts in `http_server_active_requests` and the live page's
// requests in flight. RequestScope does this itself; adapters that time requests their own way
// (vitals/httplib.h) put one around the handler. Cost: a per-thread handout of the bookkeeping, a
// clock read (none when given the start) and one histogram observe. No lock.
class VITALS_EXPORT RequestDbScope {
 public:
  explicit RequestDbScope(const RouteHandle& route);
  // The same, for a request that started at `start` (Agent::RequestStampNow, read already by an
  // adapter): the requests-in-flight view shows its age from then, and the scope reads no clock.
  RequestDbScope(const RouteHandle& route, RequestStamp start);
  ~RequestDbScope() { End(); }
  RequestDbScope(const RequestDbScope&) = delete;
  RequestDbScope& operator=(const RequestDbScope&) = delete;

  // Ends the accounting now (later calls do nothing). `record`: observe the query count.
  void End(bool record = true);

 private:
  friend class RequestScope;
  RequestDbScope() = default;
  // Begins with the request's start stamp (RequestMetrics::Stamp), kept for the in-flight view.
  // Begin and EndNow are inline in agent/requests/request.cc, where all their callers are.
  void Begin(const RouteHandle& route, int64_t start_stamp);
  void EndNow(bool record);

  // Set by Begin; meaningless while db_ is null (not begun, or ended). Left uninitialized
  // otherwise: a request on the hot path writes each once.
  internal::RequestMetrics* metrics_;
  internal::RouteEntry* route_;
  uint64_t life_;
  internal::RequestDb* prev_db_;  // the thread's current request before this one
  uint64_t prev_generation_;
  internal::RequestDb* db_ = nullptr;
};

// Times one request from construction to destruction (or `Finish()`), and records it.
//
// While it is active it is the current request of the thread that constructed it: database
// calls recorded on that thread (vitals/db.h) are counted for it, and when it finishes
// `http_server_request_db_queries` observes their number (0 for a request without any). Scopes
// nested on one thread: the inner one is current until it finishes.
//
// Cost: two clock reads (about 10 ns each with the default clock), the `RouteHandle::Record`
// cost, a per-thread handout of the request's database bookkeeping (which also makes it count as
// in flight: the active-requests gauge is tallied from them when a scrape reads it, so a request
// adds nothing to it) and one more histogram observe: about 37 ns in all, 0.38 of prometheus-cpp's
// time for the same request (BENCHMARKS.md). Constructing from a method and
// route string adds one hash-and-probe lookup (about 15-20 ns). No lock.
class VITALS_EXPORT RequestScope {
 public:
  RequestScope(Agent& agent, absl::string_view method, absl::string_view route);
  explicit RequestScope(const RouteHandle& route);
  ~RequestScope() {
    if (!done_) End();
  }

  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

  // The HTTP status to record; 200 unless set.
  void set_status(int status) { status_ = status; }
  int status() const { return status_; }

  // The trace this request belongs to, offered as the exemplar of its duration's bucket when
  // it finishes (see RouteHandle::Record for the cost). Parse it with
  // TraceContext::FromTraceparent or FromHex.
  void set_trace(const TraceContext& trace) { trace_ = trace; }

  // Body sizes in bytes, recorded with the request when Options::body_sizes is on (see
  // RouteHandle::RecordBodySizes). Unset sizes are not recorded; a request with neither costs
  // one more compare.
  void set_request_body_size(int64_t bytes) { request_bytes_ = bytes; }
  void set_response_body_size(int64_t bytes) { response_bytes_ = bytes; }

  // Ends the request now and records it; later calls (and the destructor) do nothing.
  // Returns the measured duration (zero when already finished or cancelled).
  absl::Duration Finish();

  // Ends the request without recording its duration (the active-requests gauge still drops).
  void Cancel();

 private:
  // End (the destructor's) and Complete (Finish's, inline in agent/requests/request.cc) end a
  // request not yet done and record it; Complete also gives its end stamp, or returns false when
  // the agent is gone (nothing recorded).
  void End();
  bool Complete(int64_t& end_stamp);

  RequestDbScope db_scope_;  // also the route: its metrics, entry and agent-life token
  int64_t start_stamp_;      // RequestMetrics::Stamp; set by Begin, read only when !done_
  TraceContext trace_;
  int status_ = 200;
  bool done_ = false;
  int64_t request_bytes_ = -1;  // -1: not set
  int64_t response_bytes_ = -1;
};

}  // namespace vitals

#endif  // VITALS_REQUEST_H_
