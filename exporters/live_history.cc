#include "exporters/live_history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "exporters/live_totals.h"

namespace vitals {
namespace exporters {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double BucketQuantile(double q, const std::vector<double>& bounds,
                      const std::vector<double>& buckets) {
  double total = 0;
  for (double b : buckets) total += b;
  if (!(total > 0) || buckets.size() != bounds.size() + 1) return kNaN;
  const double rank = q * total;
  double below = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (below + buckets[i] >= rank && buckets[i] > 0) {
      if (i == bounds.size()) return bounds.empty() ? kNaN : bounds.back();  // +Inf bucket
      // The lowest bucket says only "at most its bound": interpolating from 0 there would
      // invent a figure (a 5 ms bucket made every fast route read 2.5 ms).
      if (i == 0) return bounds[0];
      const double lower = bounds[i - 1];
      return lower + (bounds[i] - lower) * (rank - below) / buckets[i];
    }
    below += buckets[i];
  }
  return bounds.empty() ? kNaN : bounds.back();
}

LiveHistory::LiveHistory(internal::Registry* registry, absl::Duration interval,
                         absl::Duration window, size_t max_bytes)
    : registry_(registry),
      ring_(static_cast<size_t>(std::max<int64_t>(
                1, absl::IDivDuration(window, std::max(interval, absl::Milliseconds(1)), &window))),
            max_bytes) {}

void LiveHistory::Sample(absl::Time now) {
  // The same reading /vitals.json gives for "now"; the history keeps what turns the next
  // reading into rates.
  const LiveTotals t = ReadLiveTotals(*registry_);
  const bool first = last_time_ == absl::InfinitePast();
  const double seconds = first ? 0 : absl::ToDoubleSeconds(now - last_time_);
  std::vector<std::pair<std::string, double>> point;
  auto add_known = [&point](std::string key, double v) {
    if (v == v) point.emplace_back(std::move(key), v);  // NaN: the family is absent
  };
  // Per route or peer: the interval's rate, error ratio and quantiles, from the totals now and
  // at the last point (a key new since then started from zero).
  auto rates = [&](const std::string& key, const RouteTotals& now_totals,
                   const std::map<std::string, RouteTotals>& last,
                   const std::vector<double>& bounds, std::initializer_list<double> quantiles) {
    if (!(seconds > 0)) return;
    static const RouteTotals none;
    auto it = last.find(key);
    const RouteTotals& prev = it != last.end() ? it->second : none;
    const double delta = now_totals.count - prev.count;
    point.emplace_back(key + ":rate", delta / seconds);
    point.emplace_back(key + ":error_ratio",
                       delta > 0 ? (now_totals.errors - prev.errors) / delta : kNaN);
    std::vector<double> d(now_totals.buckets.size());
    for (size_t i = 0; i < d.size(); ++i) {
      d[i] = now_totals.buckets[i] - (i < prev.buckets.size() ? prev.buckets[i] : 0);
    }
    for (double q : quantiles) {
      point.emplace_back(absl::StrCat(key, ":p", static_cast<int>(q * 100 + 0.5)),
                         BucketQuantile(q, bounds, d));
    }
  };
  std::map<std::string, RouteTotals> routes;
  for (const LiveTotals::Route& r : t.routes) {
    const std::string key = absl::StrCat("route:", r.method, " ", r.route);
    rates(key, routes[key] = {r.requests, r.errors, r.buckets}, last_routes_, t.route_bucket_bounds,
          {0.50, 0.95, 0.99});
  }
  std::map<std::string, RouteTotals> upstreams;
  for (const LiveTotals::Upstream& u : t.upstreams) {
    const std::string key = absl::StrCat("upstream:", u.peer);
    rates(key, upstreams[key] = {u.calls, u.errors, u.buckets}, last_upstreams_,
          t.upstream_bucket_bounds, {0.99});
  }
  for (const LiveTotals::Breaker& b : t.breakers) {
    const double state = b.state == "closed"      ? 0
                         : b.state == "half_open" ? 1
                         : b.state == "open"      ? 2
                                                  : kNaN;
    add_known(absl::StrCat("breaker:", b.name, ":state"), state);
  }
  add_known("memory:rss", t.memory.rss);
  add_known("memory:heap", t.memory.heap);
  add_known("memory:heap_growth", t.memory.heap_growth);
  std::map<std::string, std::pair<double, double>> cache_gets;
  for (const LiveTotals::Cache& c : t.caches) {
    add_known(absl::StrCat("cache:", c.name, ":size"), c.size);
    cache_gets[c.name] = {c.hits, c.misses};
    if (first) continue;
    auto it = last_cache_gets_.find(c.name);
    const std::pair<double, double> prev =
        it != last_cache_gets_.end() ? it->second : std::pair<double, double>{0, 0};
    const double hits = c.hits - prev.first;
    const double gets = hits + c.misses - prev.second;
    point.emplace_back(absl::StrCat("cache:", c.name, ":hit_ratio"), gets > 0 ? hits / gets : kNaN);
  }
  for (const LiveTotals::Pool& p : t.pools) {
    add_known(absl::StrCat("pool:", p.name, ":used"), p.used);
    add_known(absl::StrCat("pool:", p.name, ":pending"), p.pending);
  }
  ring_.Append(static_cast<double>(absl::ToUnixMicros(now)) * 1e-6, point);
  last_time_ = now;
  last_routes_ = std::move(routes);
  last_upstreams_ = std::move(upstreams);
  last_cache_gets_ = std::move(cache_gets);
}

}  // namespace exporters
}  // namespace vitals
