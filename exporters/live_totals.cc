#include "exporters/live_totals.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vitals {
namespace exporters {

absl::string_view LabelValue(const internal::Family& f, const internal::Series& s,
                             absl::string_view name) {
  const auto& names = f.label_names();
  for (size_t i = 0; i < names.size() && i < s.values.size(); ++i) {
    if (names[i] == name) return s.values[i];
  }
  return {};
}

namespace {

// A gauge or counter per label value into `field` of the entry for that value.
template <typename Entry>
void PerLabel(internal::Family& f, absl::string_view label, std::map<std::string, Entry>& out,
              double Entry::*field) {
  f.Visit([&](const internal::Series& s, const double* v) {
    Entry& e = out[std::string(LabelValue(f, s, label))];
    e.*field = (e.*field == e.*field ? e.*field : 0) + v[0];  // NaN (absent) counts as 0
  });
}

// Adds a histogram series' per-bucket counts `v` to `buckets`; returns their sum.
double AddBuckets(const internal::HistogramLayout& layout, const double* v,
                  std::vector<double>& buckets) {
  buckets.resize(layout.buckets(), 0);
  double count = 0;
  for (uint32_t i = 0; i < layout.buckets(); ++i) {
    buckets[i] += v[i];
    count += v[i];
  }
  return count;
}

template <typename Entry>
std::vector<Entry> Named(std::map<std::string, Entry>& by_name) {
  std::vector<Entry> out;
  for (auto& [name, e] : by_name) {
    e.name = name;
    out.push_back(std::move(e));
  }
  return out;
}

// The (method, route) key of a route series: HTTP's labels, or an RPC's system and method.
std::pair<std::string, std::string> RouteKey(const internal::Family& f, const internal::Series& s,
                                             bool rpc) {
  return {std::string(LabelValue(f, s, rpc ? "rpc_system_name" : "http_request_method")),
          std::string(LabelValue(f, s, rpc ? "rpc_method" : "http_route"))};
}

}  // namespace

LiveTotals ReadLiveTotals(internal::Registry& registry) {
  LiveTotals t;
  std::map<std::pair<std::string, std::string>, LiveTotals::Route> routes;
  std::map<std::string, LiveTotals::Cache> caches;
  std::map<std::string, LiveTotals::Pool> pools;
  const std::map<std::string, double LiveTotals::Memory::*> memory = {
      {"process_resident_memory_bytes", &LiveTotals::Memory::rss},
      {"process_heap_bytes", &LiveTotals::Memory::heap},
      {"vitals_heap_growth_bytes_per_second", &LiveTotals::Memory::heap_growth},
      {"process_cpu_seconds_total", &LiveTotals::Memory::cpu_seconds},
      {"process_threads", &LiveTotals::Memory::threads},
      {"process_open_fds", &LiveTotals::Memory::open_fds},
  };
  const std::map<std::string, double LiveTotals::Cache::*> cache_fields = {
      {"cache_size", &LiveTotals::Cache::size},
      {"cache_max_size", &LiveTotals::Cache::max_size},
      {"cache_evictions_total", &LiveTotals::Cache::evictions},
      {"cache_evictions_unused_total", &LiveTotals::Cache::evictions_unused},
  };
  const std::map<std::string, double LiveTotals::Pool::*> pool_fields = {
      {"db_client_connection_max", &LiveTotals::Pool::max},
      {"db_client_connection_pending_requests", &LiveTotals::Pool::pending},
      {"db_client_connection_timeouts_total", &LiveTotals::Pool::timeouts},
  };
  constexpr absl::string_view kPool = "db_client_connection_pool_name";
  std::map<std::string, LiveTotals::Upstream> upstreams;
  std::map<std::string, LiveTotals::Breaker> breakers;
  std::map<std::string, LiveTotals::Executor> executors;
  const std::map<std::string, double LiveTotals::Executor::*> executor_fields = {
      {"executor_active_threads", &LiveTotals::Executor::active},
      {"executor_pool_size_threads", &LiveTotals::Executor::pool_size},
      {"executor_queued_tasks", &LiveTotals::Executor::queued},
      {"executor_completed_tasks_total", &LiveTotals::Executor::completed},
      {"vitals_executor_stalled_tasks_total", &LiveTotals::Executor::stalled},
  };
  registry.ForEachFamily([&](internal::Family& f) {
    const std::string& name = f.name();
    if (name == "http_server_request_duration_seconds" ||
        name == "rpc_server_call_duration_seconds") {
      // RPC methods beside the routes, with the same buckets (both use
      // request_duration_buckets); an RPC's errors are the codes with an error_type.
      const bool rpc = absl::StartsWith(name, "rpc_");
      const internal::HistogramLayout layout{static_cast<uint32_t>(f.bounds().size())};
      t.route_bucket_bounds = f.bounds();
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Route& r = routes[RouteKey(f, s, rpc)];
        r.rpc = rpc;
        const double count = AddBuckets(layout, v, r.buckets);
        r.requests += count;
        r.seconds += v[layout.sum()];
        const absl::string_view status = LabelValue(f, s, "http_response_status_code");
        if (rpc ? !LabelValue(f, s, "error_type").empty() : !status.empty() && status[0] == '5') {
          r.errors += count;
        }
      });
    } else if (name == "vitals_http_server_request_time_seconds_total" ||
               name == "vitals_rpc_server_call_time_seconds_total") {
      const bool rpc = absl::StartsWith(name, "vitals_rpc_");
      f.Visit([&](const internal::Series& s, const double* v) {
        const absl::string_view part = LabelValue(f, s, "part");
        const int i = part == "db" ? 0 : part == "outbound" ? 1 : part == "self" ? 2 : -1;
        if (i < 0) return;  // the overflow series
        // Only routes that served requests (the duration family was made, and is visited, first).
        auto r = routes.find(RouteKey(f, s, rpc));
        if (r != routes.end()) r->second.time_parts[i] += v[0];
      });
    } else if (name == "vitals_http_server_sequential_calls_total" ||
               name == "vitals_rpc_server_sequential_calls_total") {
      const bool rpc = absl::StartsWith(name, "vitals_rpc_");
      f.Visit([&](const internal::Series& s, const double* v) {
        auto r = routes.find(RouteKey(f, s, rpc));
        if (r != routes.end()) r->second.sequential += v[0];
      });
    } else if (name == "http_client_request_duration_seconds" ||
               name == "rpc_client_call_duration_seconds") {
      const bool rpc = absl::StartsWith(name, "rpc_");
      const internal::HistogramLayout layout{static_cast<uint32_t>(f.bounds().size())};
      t.upstream_bucket_bounds = f.bounds();  // the same default buckets for both
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Upstream& u =
            upstreams[absl::StrCat(LabelValue(f, s, "server_address"), ":",
                                   LabelValue(f, s, "server_port"), rpc ? " (rpc)" : "")];
        const double count = AddBuckets(layout, v, u.buckets);
        u.calls += count;
        const absl::string_view status = LabelValue(f, s, "http_response_status_code");
        if (!LabelValue(f, s, "error_type").empty() || (!status.empty() && status[0] == '5')) {
          u.errors += count;
        }
      });
    } else if (name == "resilience4j_circuitbreaker_state") {
      f.Visit([&](const internal::Series& s, const double* v) {
        if (v[0] == 1)
          breakers[std::string(LabelValue(f, s, "name"))].state =
              std::string(LabelValue(f, s, "state"));
      });
    } else if (name == "resilience4j_circuitbreaker_failure_rate") {
      PerLabel(f, "name", breakers, &LiveTotals::Breaker::failure_rate);
    } else if (name == "resilience4j_circuitbreaker_not_permitted_calls_total") {
      PerLabel(f, "name", breakers, &LiveTotals::Breaker::not_permitted);
    } else if (auto e = executor_fields.find(name); e != executor_fields.end()) {
      PerLabel(f, "name", executors, e->second);
    } else if (name == "executor_idle_seconds") {
      const internal::HistogramLayout layout{static_cast<uint32_t>(f.bounds().size())};
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Executor& e = executors[std::string(LabelValue(f, s, "name"))];
        for (uint32_t i = 0; i < layout.buckets(); ++i) e.waits += v[i];
        e.wait_seconds += v[layout.sum()];
      });
    } else if (auto m = memory.find(name); m != memory.end()) {
      f.Visit([&](const internal::Series&, const double* v) { t.memory.*(m->second) = v[0]; });
    } else if (name == "vitals_heap_reserved_bytes") {
      f.Visit([&](const internal::Series& s, const double*) {
        t.memory.allocator = std::string(LabelValue(f, s, "allocator"));
      });
    } else if (name == "cache_gets_total") {
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Cache& c = caches[std::string(LabelValue(f, s, "cache"))];
        (LabelValue(f, s, "result") == "hit" ? c.hits : c.misses) += v[0];
      });
    } else if (auto c = cache_fields.find(name); c != cache_fields.end()) {
      PerLabel(f, "cache", caches, c->second);
    } else if (auto p = pool_fields.find(name); p != pool_fields.end()) {
      PerLabel(f, kPool, pools, p->second);
    } else if (name == "db_client_connections_usage") {
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Pool& p = pools[std::string(LabelValue(f, s, kPool))];
        const bool used = LabelValue(f, s, "db_client_connection_state") == "used";
        (used ? p.used : p.idle) = v[0];
      });
    } else if (name == "db_client_connection_wait_time_seconds") {
      const internal::HistogramLayout layout{static_cast<uint32_t>(f.bounds().size())};
      f.Visit([&](const internal::Series& s, const double* v) {
        LiveTotals::Pool& p = pools[std::string(LabelValue(f, s, kPool))];
        for (uint32_t i = 0; i < layout.buckets(); ++i) p.waits += v[i];
        p.wait_seconds += v[layout.sum()];
      });
    }
  });
  for (auto& [key, r] : routes) {
    r.method = key.first;
    r.route = key.second;
    t.routes.push_back(std::move(r));
  }
  for (auto& [peer, u] : upstreams) {
    u.peer = peer;
    t.upstreams.push_back(std::move(u));
  }
  t.breakers = Named(breakers);
  t.executors = Named(executors);
  t.caches = Named(caches);
  t.pools = Named(pools);
  return t;
}

}  // namespace exporters
}  // namespace vitals
