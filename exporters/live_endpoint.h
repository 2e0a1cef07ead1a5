// exporters/live_endpoint.h: /vitals.json, what the agent's live page shows, for the page and
// for scripts.
//
// The document is versioned: `"schema": "vitals.json/1"`; a later version only adds fields,
// and a change that removes or redefines one gets a new number. docs/vitals-json.md describes
// every field. Times are Unix seconds (fractions allowed), durations seconds.
//
// Access: the same as /metrics (`metrics_basic_auth` when set). It is answered in the scrape
// lane: reading the tables is a few microseconds to a millisecond, never blocking.

#ifndef VITALS_EXPORTERS_LIVE_ENDPOINT_H_
#define VITALS_EXPORTERS_LIVE_ENDPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/base/series_ring.h"
#include "agent/http/http_route.h"
#include "vitals/options.h"

namespace vitals {
namespace exporters {

// What the page shows, gathered by the composition root from the features.
struct LiveView {
  absl::Time now;
  struct InFlight {
    int count = 0;
    double oldest_seconds = 0;
  } in_flight;
  struct SlowRequest {
    absl::Time at;
    std::string method, route;
    int status = 0;
    double seconds = 0;
  };
  std::vector<SlowRequest> slow_requests;  // newest first
  uint64_t slow_requests_total = 0;        // since the agent started, kept or not
  struct Statement {
    std::string system, text, table;
    double calls = 0, total_seconds = 0, max_seconds = 0;
  };
  std::vector<Statement> statements;  // most total time first
  struct NPlusOne {
    std::string method, route, statement, table;
    uint64_t requests = 0;
    uint32_t last_calls = 0, max_calls = 0;
    absl::Time last_at;
  };
  std::vector<NPlusOne> n_plus_one;  // most recent first
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
  // `source` must outlive the endpoint.
  LiveEndpoint(const Options& options, LiveSource* source);

  http::HttpRoute JsonRoute();

  // The document for `view`.
  static std::string RenderJson(const LiveView& view);

 private:
  const std::string basic_auth_;
  LiveSource* source_;
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_LIVE_ENDPOINT_H_
