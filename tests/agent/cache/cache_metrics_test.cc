#include "agent/cache/cache_metrics.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::SampleValue;

TEST_CASE("cache metrics count exactly what the service records", "[cache]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  vitals::CacheMetrics users = agent.Cache("users");
  REQUIRE(users.enabled());
  for (int i = 0; i < 7; ++i) users.Hit();
  for (int i = 0; i < 3; ++i) users.Miss();
  users.Put();
  users.Put();
  users.Eviction(/*was_used=*/true);
  users.Eviction(/*was_used=*/false);
  users.AddSize(5);
  users.AddSize(-2);
  users.Load(absl::Milliseconds(3), /*ok=*/true);
  users.Load(absl::Milliseconds(40), /*ok=*/false);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "cache_gets_total{cache=\"users\",result=\"hit\"}") == 7);
  CHECK(SampleValue(body, "cache_gets_total{cache=\"users\",result=\"miss\"}") == 3);
  CHECK(SampleValue(body, "cache_puts_total{cache=\"users\"}") == 2);
  CHECK(SampleValue(body, "cache_evictions_total{cache=\"users\"}") == 2);
  CHECK(SampleValue(body, "cache_evictions_unused_total{cache=\"users\"}") == 1);
  CHECK(SampleValue(body, "cache_size{cache=\"users\"}") == 3);
  CHECK(SampleValue(body, "cache_load_duration_seconds_count{cache=\"users\"}") == 2);
  CHECK(SampleValue(body, "cache_load_duration_seconds_sum{cache=\"users\"}") == Approx(0.043));
  CHECK(SampleValue(body, "cache_load_duration_seconds_bucket{cache=\"users\",le=\"0.005\"}") == 1);
  CHECK(SampleValue(body, "cache_load_failures_total{cache=\"users\"}") == 1);
  // No bound was given: no max size series.
  CHECK(vitals_test::CountLines(body, "cache_max_size{") == 0);
  users.SetMaxSize(1000);
  users.SetSize(42);
  const std::string after = agent.RenderText();
  CHECK(SampleValue(after, "cache_max_size{cache=\"users\"}") == 1000);
  CHECK(SampleValue(after, "cache_size{cache=\"users\"}") == 42);
}

TEST_CASE("the same cache name gives the same series: names are any bytes", "[cache]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  agent.Cache("a").Hit();
  agent.Cache("a").Hit();
  agent.Cache("we\"ird\n").Miss();
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, "cache_gets_total{cache=\"a\",result=\"hit\"}") == 2);
  CHECK(SampleValue(body, "cache_gets_total{cache=\"we\\\"ird\\n\",result=\"miss\"}") == 1);
}

TEST_CASE("cache families are served before any cache exists", "[cache]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  const std::string body = agent.RenderText();
  for (const char* type :
       {"# TYPE cache_gets_total counter", "# TYPE cache_puts_total counter",
        "# TYPE cache_evictions_total counter", "# TYPE cache_evictions_unused_total counter",
        "# TYPE cache_size gauge", "# TYPE cache_max_size gauge",
        "# TYPE cache_load_duration_seconds histogram",
        "# TYPE cache_load_failures_total counter"}) {
    CHECK(body.find(type) != std::string::npos);
  }
}

TEST_CASE("a default CacheMetrics records nothing and does not crash", "[cache]") {
  vitals::Agent agent(vitals_test::QuietOptions());
  agent.Cache("real").Hit();  // one real cache, so the families have a series to compare
  auto cache_lines = [&] {
    std::string lines;
    std::istringstream in(agent.RenderText());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("cache_", 0) == 0) lines += line + "\n";
    }
    return lines;
  };
  const std::string before = cache_lines();
  vitals::CacheMetrics none;
  CHECK_FALSE(none.enabled());
  none.Hit();
  none.Miss();
  none.Put();
  none.Eviction(false);
  none.AddSize(1);
  none.SetSize(1);
  none.SetMaxSize(1);
  none.Load(absl::Seconds(1), false);
  CHECK(cache_lines() == before);  // not a single cache_* sample changed or appeared
  CHECK(before.find("cache_gets_total{cache=\"real\",result=\"hit\"} 1") != std::string::npos);
}

TEST_CASE("endless cache names stay bounded and lose no count", "[cache]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.series_limit = 100;
  vitals::Agent agent(o);
  const size_t names = vitals::internal::CacheFamilies::kMaxCacheNames + 10;
  for (size_t i = 0; i < names; ++i) agent.Cache("c" + std::to_string(i)).Hit();
  const std::string body = agent.RenderText();
  std::istringstream in(body);
  std::string line;
  double total = 0;
  int series = 0;
  while (std::getline(in, line)) {
    if (line.rfind("cache_gets_total{", 0) == 0) {
      total += std::stod(line.substr(line.rfind(' ') + 1));
      ++series;
    }
  }
  CHECK(total == names);
  CHECK(series <= 101);  // the limit, plus the overflow series
  CHECK(SampleValue(body, "cache_gets_total{cache=\"__overflow__\",result=\"__overflow__\"}") > 0);
}

}  // namespace
