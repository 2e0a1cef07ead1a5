// exporters/live_totals.h: the live page's figures for "now", read from the agent's own
// families at the moment /vitals.json is asked for, so they equal what /metrics says at that
// moment: requests and 5xx per route, each cache, each connection pool, the process's memory.
//
// Thread-safety: ReadLiveTotals may be called from any thread at once; it reads the registry
// lock-free (Family::Visit). Cost: one pass over the families it knows, a few microseconds per
// hundred series.

#ifndef VITALS_EXPORTERS_LIVE_TOTALS_H_
#define VITALS_EXPORTERS_LIVE_TOTALS_H_

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/core/registry.h"

namespace vitals {
namespace exporters {

struct LiveTotals {
  static constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
  // One per (method, route) of http_server_request_duration_seconds, all status codes summed,
  // and one per (rpc_system_name, rpc_method) of rpc_server_call_duration_seconds (`rpc`).
  struct Route {
    std::string method, route;  // an RPC's: its system and method
    bool rpc = false;
    double requests = 0, errors = 0;  // errors: answered 5xx, or an RPC with an error_type
    double seconds = 0;               // time in them, all together
    std::vector<double> buckets;      // per bucket (not cumulative), +Inf last; see bounds
    // vitals_http_server_request_time_seconds_total by part (db, outbound, self), and
    // vitals_http_server_sequential_calls_total.
    double time_parts[3] = {0, 0, 0};
    double sequential = 0;
  };
  std::vector<Route> routes;                // by method and route
  std::vector<double> route_bucket_bounds;  // the upper bounds of Route::buckets but +Inf
  // One per `cache` label of the cache_* families. NaN where the family is absent.
  struct Cache {
    std::string name;
    double hits = 0, misses = 0;
    double size = kUnknown, max_size = kUnknown, evictions = kUnknown, evictions_unused = kUnknown;
  };
  std::vector<Cache> caches;  // by name
  // One per db_client_connection_pool_name. NaN where the family is absent.
  struct Pool {
    std::string name;
    double used = kUnknown, idle = kUnknown, max = kUnknown, pending = kUnknown,
           timeouts = kUnknown;
    double waits = 0, wait_seconds = 0;  // callers that waited, and their time in all
  };
  std::vector<Pool> pools;  // by name
  // One per peer (server_address:server_port) of http_client_request_duration_seconds and of
  // rpc_client_call_duration_seconds (an RPC peer's name ends in " (rpc)").
  struct Upstream {
    std::string peer;
    double calls = 0, errors = 0;  // errors: answered 5xx, or failed with an error_type
    std::vector<double> buckets;   // per bucket, +Inf last; see upstream_bucket_bounds
  };
  std::vector<Upstream> upstreams;  // by peer
  std::vector<double> upstream_bucket_bounds;
  // One per resilience4j_circuitbreaker_* name.
  struct Breaker {
    std::string name;
    std::string state;  // closed, open or half_open; empty when unknown
    double failure_rate = kUnknown, not_permitted = 0;
  };
  std::vector<Breaker> breakers;  // by name
  // One per executor_* / vitals_executor_* name.
  struct Executor {
    std::string name;
    double active = kUnknown, pool_size = kUnknown, queued = kUnknown, completed = kUnknown,
           stalled = kUnknown;
    double waits = 0, wait_seconds = 0;  // tasks started, and their queue waits in all
  };
  std::vector<Executor> executors;  // by name
  // The process, NaN where process metrics are off or the figure is unknown.
  struct Memory {
    double rss = kUnknown, heap = kUnknown, heap_growth = kUnknown, cpu_seconds = kUnknown,
           threads = kUnknown, open_fds = kUnknown;
    std::string allocator;  // the `allocator` label of vitals_heap_reserved_bytes, or empty
  } memory;
};

LiveTotals ReadLiveTotals(internal::Registry& registry);

// The value of label `name` in a series of `f`, empty when the family has no such label.
absl::string_view LabelValue(const internal::Family& f, const internal::Series& s,
                             absl::string_view name);

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_LIVE_TOTALS_H_
