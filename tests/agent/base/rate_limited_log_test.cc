#include "agent/base/rate_limited_log.h"

#include <catch2/catch.hpp>

#include "tests/support/fakes.h"

namespace {

TEST_CASE("a burst passes, then the rate limit holds and reports what it dropped", "[log]") {
  auto sink = std::make_shared<vitals_test::CapturingSink>();
  vitals_test::FakeClock clock;
  vitals::internal::RateLimitedLog log(sink, &clock, /*per_second=*/1, /*burst=*/3);
  for (int i = 0; i < 100; ++i) log.Log(vitals::LogSeverity::kWarning, "line");
  CHECK(sink->lines().size() == 3);
  CHECK(log.suppressed_total() == 97);
  clock.AdvanceMs(1000);
  log.Log(vitals::LogSeverity::kWarning, "again");
  auto lines = sink->lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[3] == "WARNING again (97 similar lines suppressed by the rate limit)");
  log.Log(vitals::LogSeverity::kWarning, "too soon");
  CHECK(sink->lines().size() == 4);
  clock.AdvanceMs(10000);  // a long quiet spell refills the burst, no more
  for (int i = 0; i < 10; ++i) log.Log(vitals::LogSeverity::kInfo, "x");
  CHECK(sink->lines().size() == 7);
}

}  // namespace
