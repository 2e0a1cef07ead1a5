// The live page's history: rates, error ratios and quantiles per interval, read from the
// agent's own families, in a bounded ring.

#include "exporters/live_history.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "agent/root/agent_access.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {

using vitals::exporters::BucketQuantile;
using vitals::exporters::LiveHistory;

TEST_CASE("bucket quantiles interpolate as PromQL's histogram_quantile, never inside the lowest",
          "[live]") {
  const std::vector<double> bounds = {0.1, 0.5, 1};
  // All in the lowest bucket: at most its bound, which is all the data says (PromQL would
  // interpolate from zero and answer 0.05, a figure no observation supports).
  CHECK(BucketQuantile(0.5, bounds, {10, 0, 0, 0}) == 0.1);
  CHECK(BucketQuantile(0.01, bounds, {10, 0, 0, 0}) == 0.1);
  CHECK(BucketQuantile(0.5, bounds, {0, 0, 10, 0}) == Approx(0.75));
  CHECK(BucketQuantile(0.99, bounds, {0, 10, 0, 1}) == Approx(1));  // in +Inf: the last bound
  CHECK(BucketQuantile(0.5, bounds, {5, 5, 0, 0}) == Approx(0.1));
  CHECK(std::isnan(BucketQuantile(0.5, bounds, {0, 0, 0, 0})));
}

TEST_CASE("each point has the interval's rate, error ratio and quantiles per route", "[live]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.process_metrics = false;
  vitals::Agent agent(o);
  auto& registry = vitals::internal::AgentAccess::Impl(agent).registry();
  LiveHistory history(&registry, absl::Seconds(10), absl::Minutes(15), 1 << 20);
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  agent.Record("GET", "/a", 200, absl::Milliseconds(1));  // before the first point
  history.Sample(t0);
  for (int i = 0; i < 90; ++i) agent.Record("GET", "/a", 200, absl::Milliseconds(4));
  for (int i = 0; i < 10; ++i) agent.Record("GET", "/a", 503, absl::Milliseconds(300));
  history.Sample(t0 + absl::Seconds(10));
  const auto snap = history.Read();
  REQUIRE(snap.times == std::vector<double>{1700000000, 1700000010});
  auto at = [&](const std::string& key) {
    auto it = snap.series.find(key);
    REQUIRE(it != snap.series.end());
    CHECK(std::isnan(it->second[0]));  // the first point has no interval
    return it->second[1];
  };
  CHECK(at("route:GET /a:rate") == Approx(10));
  CHECK(at("route:GET /a:error_ratio") == Approx(0.1));
  // 90 in (0, 0.005], 10 in (0.25, 0.5]: the same interpolation as histogram_quantile.
  CHECK(at("route:GET /a:p50") == Approx(0.0025 + 0.0025 * 50 / 90));  // in (2.5 ms, 5 ms]
  CHECK(at("route:GET /a:p99") == Approx(0.25 + 0.25 * 9 / 10));
}

TEST_CASE("the history keeps its window of points and its byte bound", "[live]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.process_metrics = false;
  vitals::Agent agent(o);
  auto& registry = vitals::internal::AgentAccess::Impl(agent).registry();
  LiveHistory history(&registry, absl::Seconds(15), absl::Minutes(1), 1 << 20);  // 4 points
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 6; ++i) {
    agent.Record("GET", "/r" + std::to_string(i), 200, absl::Milliseconds(1));
    history.Sample(t0 + absl::Seconds(15 * i));
  }
  CHECK(history.Read().times.size() == 4);
  // 4 points x 8 bytes = 32 bytes a key: 100 bytes hold 3 keys, whatever the routes.
  LiveHistory small(&registry, absl::Seconds(15), absl::Minutes(1), 100);
  for (int i = 0; i < 6; ++i) {
    for (int r = 0; r < 20; ++r)
      agent.Record("GET", "/s" + std::to_string(r), 200, absl::Milliseconds(1));
    small.Sample(t0 + absl::Seconds(15 * i));
    REQUIRE(small.bytes() <= 100);
  }
  CHECK(small.Read().refused_keys > 0);
}

}  // namespace
