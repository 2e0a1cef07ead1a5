// exporters/live_history.h: the live page's recent past, kept without Prometheus: every
// sample interval one point of what the page draws, read from the agent's own families, into
// a bounded SeriesRing (by default 15 minutes of points, at most 1 MB).
//
// Keys of a point (values are per interval where they are rates or quantiles):
//   route:<METHOD> <route>:rate           requests per second
//   route:<METHOD> <route>:error_ratio    share of them answered 5xx
//   route:<METHOD> <route>:p50|p95|p99    latency quantiles in seconds, interpolated in the
//                                         histogram's buckets as PromQL's histogram_quantile,
//                                         but never inside the lowest one (BucketQuantile)
//   memory:rss, memory:heap, memory:heap_growth   process_resident_memory_bytes,
//                                         process_heap_bytes, vitals_heap_growth_bytes_per_second
//   cache:<name>:hit_ratio, cache:<name>:size
//   pool:<name>:used, pool:<name>:pending
//   upstream:<address:port>:rate|error_ratio|p99   outbound calls, as the route keys
//   breaker:<name>:state                  0 closed, 1 half open, 2 open (the page finds the
//                                         last change in it)
// A rate, ratio or quantile needs two points: the first point after the start has none.
//
// Thread-safety: Sample() from one thread at a time (the agent's history thread, or a test);
// Read() from any thread.

#ifndef VITALS_EXPORTERS_LIVE_HISTORY_H_
#define VITALS_EXPORTERS_LIVE_HISTORY_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/base/series_ring.h"
#include "agent/core/registry.h"

namespace vitals {
namespace exporters {

// The value below which a fraction `q` of the observations counted in `buckets` (per-bucket,
// not cumulative; the last one is +Inf) fall, interpolated linearly inside its bucket as
// PromQL's histogram_quantile does, except where the data supports no finer figure: inside the
// lowest bucket the answer is its bound (read "at most bounds[0]"), inside +Inf the highest
// bound (read "at least bounds.back()"), as PromQL says there. NaN when there are none.
double BucketQuantile(double q, const std::vector<double>& bounds,
                      const std::vector<double>& buckets);

class LiveHistory {
 public:
  // Points every `interval` over `window`, values of all keys together at most `max_bytes`.
  LiveHistory(internal::Registry* registry, absl::Duration interval, absl::Duration window,
              size_t max_bytes);

  // Appends one point for `now`.
  void Sample(absl::Time now);
  internal::SeriesRing::Snapshot Read() const { return ring_.Read(); }
  size_t bytes() const { return ring_.bytes(); }

 private:
  // Cumulative numbers from the last Sample, to turn the next one into rates.
  struct RouteTotals {
    double count = 0, errors = 0;
    std::vector<double> buckets;
  };

  internal::Registry* registry_;
  internal::SeriesRing ring_;
  absl::Time last_time_ = absl::InfinitePast();
  std::map<std::string, RouteTotals> last_routes_;
  std::map<std::string, RouteTotals> last_upstreams_;                 // by peer
  std::map<std::string, std::pair<double, double>> last_cache_gets_;  // hits, misses
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_LIVE_HISTORY_H_
