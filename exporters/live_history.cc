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
      const double lower = i == 0 ? std::min(0.0, bounds[0]) : bounds[i - 1];
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
  std::vector<std::pair<std::string, double>> point;
  std::map<std::string, RouteTotals> routes;
  std::map<std::string, std::pair<double, double>> cache_gets;
  registry_->ForEachFamily([&](internal::Family& f) {
    const std::string& name = f.name();
    if (name == "http_server_request_duration_seconds") {
      const internal::HistogramLayout layout{static_cast<uint32_t>(f.bounds().size())};
      f.Visit([&](const internal::Series& s, const double* values) {
        RouteTotals& r = routes[absl::StrCat(LabelValue(f, s, "http_request_method"), " ",
                                             LabelValue(f, s, "http_route"))];
        r.buckets.resize(layout.buckets(), 0);
        double count = 0;
        for (uint32_t i = 0; i < layout.buckets(); ++i) {
          r.buckets[i] += values[i];
          count += values[i];
        }
        r.count += count;
        const absl::string_view status = LabelValue(f, s, "http_response_status_code");
        if (!status.empty() && status[0] == '5') r.errors += count;
      });
      // Rates and quantiles over the interval since the last point.
      const double seconds = absl::ToDoubleSeconds(now - last_time_);
      const RouteTotals none;  // a route new since the last point started from zero
      for (const auto& [key, r] : routes) {
        if (!(seconds > 0) || last_time_ == absl::InfinitePast()) break;
        auto it = last_routes_.find(key);
        const RouteTotals& prev = it != last_routes_.end() ? it->second : none;
        const double delta = r.count - prev.count;
        const std::string k = absl::StrCat("route:", key, ":");
        point.emplace_back(k + "rate", delta / seconds);
        point.emplace_back(k + "error_ratio", delta > 0 ? (r.errors - prev.errors) / delta : kNaN);
        std::vector<double> d(r.buckets.size());
        for (size_t i = 0; i < d.size(); ++i) {
          d[i] = r.buckets[i] - (i < prev.buckets.size() ? prev.buckets[i] : 0);
        }
        point.emplace_back(k + "p50", BucketQuantile(0.50, f.bounds(), d));
        point.emplace_back(k + "p95", BucketQuantile(0.95, f.bounds(), d));
        point.emplace_back(k + "p99", BucketQuantile(0.99, f.bounds(), d));
      }
    } else if (name == "process_resident_memory_bytes" || name == "process_heap_bytes" ||
               name == "vitals_heap_growth_bytes_per_second") {
      const char* key = name == "process_resident_memory_bytes" ? "memory:rss"
                        : name == "process_heap_bytes"          ? "memory:heap"
                                                                : "memory:heap_growth";
      f.Visit([&](const internal::Series&, const double* v) { point.emplace_back(key, v[0]); });
    } else if (name == "cache_size") {
      f.Visit([&](const internal::Series& s, const double* v) {
        point.emplace_back(absl::StrCat("cache:", LabelValue(f, s, "cache"), ":size"), v[0]);
      });
    } else if (name == "cache_gets_total") {
      f.Visit([&](const internal::Series& s, const double* v) {
        auto& hm = cache_gets[std::string(LabelValue(f, s, "cache"))];
        (LabelValue(f, s, "result") == "hit" ? hm.first : hm.second) += v[0];
      });
    } else if (name == "db_client_connections_usage") {
      f.Visit([&](const internal::Series& s, const double* v) {
        if (LabelValue(f, s, "db_client_connection_state") != "used") return;
        point.emplace_back(
            absl::StrCat("pool:", LabelValue(f, s, "db_client_connection_pool_name"), ":used"),
            v[0]);
      });
    } else if (name == "db_client_connection_pending_requests") {
      f.Visit([&](const internal::Series& s, const double* v) {
        point.emplace_back(
            absl::StrCat("pool:", LabelValue(f, s, "db_client_connection_pool_name"), ":pending"),
            v[0]);
      });
    }
  });
  for (const auto& [cache, hm] : cache_gets) {
    if (last_time_ == absl::InfinitePast()) break;
    auto it = last_cache_gets_.find(cache);
    const std::pair<double, double> prev =
        it != last_cache_gets_.end() ? it->second : std::pair<double, double>{0, 0};
    const double hits = hm.first - prev.first;
    const double gets = hits + hm.second - prev.second;
    point.emplace_back(absl::StrCat("cache:", cache, ":hit_ratio"), gets > 0 ? hits / gets : kNaN);
  }
  ring_.Append(static_cast<double>(absl::ToUnixMicros(now)) * 1e-6, point);
  last_time_ = now;
  last_routes_ = std::move(routes);
  last_cache_gets_ = std::move(cache_gets);
}

}  // namespace exporters
}  // namespace vitals
