// exporters/live_endpoint.h: /vitals.json, what the agent's live page shows, for the page and
// for scripts.
//
// The document is versioned: `"schema": "vitals.json/1"`; a later version only adds fields,
// and a change that removes or redefines one gets a new number. docs/vitals-json.md describes
// every field. Times are Unix seconds (fractions allowed), durations seconds.
//
// `/` serves the live page (exporters/live_page/: HTML, CSS and JavaScript compiled into the
// library, no request leaving the agent), which polls /vitals.json and draws it; with profiling
// allowed it takes CPU profiles from /debug/pprof/profile and draws them as flame graphs.
//
// Access: both as /metrics (`metrics_basic_auth` when set); the document says whether the
// client may use profiling (the profiling endpoints decide that, as always). Both are answered
// in the scrape lane: reading the tables is a few microseconds to a millisecond, never blocking.

#ifndef VITALS_EXPORTERS_LIVE_ENDPOINT_H_
#define VITALS_EXPORTERS_LIVE_ENDPOINT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/base/series_ring.h"
#include "agent/http/http_route.h"
#include "exporters/live_totals.h"
#include "vitals/options.h"

namespace vitals {
namespace exporters {

// What the page shows, gathered by the composition root from the features.
struct LiveView {
  absl::Time now;
  std::string service, version;  // the program's name, the agent's version
  struct Profiling {
    bool enabled = false;       // Options::profiling
    bool allowed = false;       // this client may use the profiling endpoints
    bool auto_enabled = false;  // Options::auto_profile
  } profiling;
  LiveTotals totals;  // requests per route, caches, pools, memory: as /metrics says now
  struct InFlight {
    int count = 0;
    double oldest_seconds = 0;
  } in_flight;
  struct SlowRequest {
    absl::Time at;
    std::string method, route;  // an RPC's: its rpc.system.name and rpc.method
    int status = 0;
    double seconds = 0;
    std::string status_name;  // an RPC's status code by name; empty for HTTP requests
  };
  std::vector<SlowRequest> slow_requests;  // newest first
  uint64_t slow_requests_total = 0;        // since the agent started, kept or not
  struct Statement {
    std::string system, text, table;
    double calls = 0, total_seconds = 0, max_seconds = 0;
    // Its latest plan (Options::explain_threshold), when it was explained.
    struct Plan {
      absl::Time at;
      std::string top, text, error;
      struct Candidate {
        std::string table;
        std::vector<std::string> columns;
        double plan_rows = 0, table_rows = -1;  // -1: not known
      };
      std::vector<Candidate> candidates;
    };
    std::optional<Plan> plan;
  };
  std::vector<Statement> statements;  // most total time first
  struct NPlusOne {
    std::string method, route, statement, table;
    uint64_t requests = 0;
    uint32_t last_calls = 0, max_calls = 0;
    absl::Time last_at;
  };
  std::vector<NPlusOne> n_plus_one;  // most recent first
  // The process's threads: how many, and the busiest by CPU over `window_seconds`.
  struct Thread {
    int tid = 0;
    std::string name;
    double cpu_seconds = 0, cpu_share = 0;  // since it started; of one CPU over the window
  };
  struct Threads {
    int count = 0;
    double window_seconds = 0;
    std::vector<Thread> busiest;  // most CPU first
  } threads;
  // The series budget: per family with a series, how many it holds, its limit, the lookups
  // past it, and the series it expired (NaN for a family that keeps its series), most series
  // first (at most kMaxSeriesBudgetRows).
  struct SeriesBudget {
    std::string metric;
    double series = 0, limit = 0, overflowed = 0;
    double expired = 0;
  };
  static constexpr size_t kMaxSeriesBudgetRows = 100;
  std::vector<SeriesBudget> series_budget;
  double series_total = 0;  // over every family, not only the rows
  // Recent points (exporters/live_history.h names the keys), and their spacing.
  double history_interval_seconds = 0;
  internal::SeriesRing::Snapshot history;
};

class LiveSource {
 public:
  virtual ~LiveSource() = default;
  virtual LiveView View() = 0;
};

class LiveEndpoint {
 public:
  // Whether a request may use the profiling endpoints (null: profiling is off).
  using ProfilingCheck = std::function<bool(const http::HttpRequest&)>;

  // `source` must outlive the endpoint.
  LiveEndpoint(const Options& options, LiveSource* source, ProfilingCheck profiling_allows);

  // /vitals.json.
  http::HttpRoute JsonRoute();
  // `/`: the page, its footer listing `links` (path, description).
  http::HttpRoute PageRoute(const std::vector<std::pair<std::string, std::string>>& links);

  // The page with `links` in its footer.
  static std::string RenderPage(const std::vector<std::pair<std::string, std::string>>& links);

  // The document for `view`.
  static std::string RenderJson(const LiveView& view);

 private:
  const std::string basic_auth_;
  LiveSource* source_;
  ProfilingCheck profiling_allows_;
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_LIVE_ENDPOINT_H_
