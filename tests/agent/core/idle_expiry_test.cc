// Idle-series expiry (Options::series_idle_ttl) of the public API's families: a family opts in
// with MetricFamily::ExpireIdleSeries; a series nothing recorded into for the TTL leaves the
// exposition and its memory is reused; the same labels later start from zero. The sweeps run
// here on a fake clock, called directly (AgentImpl::SweepIdle), so nothing sleeps.

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "agent/core/family.h"
#include "agent/root/agent_access.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::CountLines;
using vitals_test::FamilyNamed;
using vitals_test::SampleValue;

struct Fixture : vitals_test::ClockAndLog {
  // One sweep period of the fake clock, then a sweep.
  void Tick(vitals::Agent& agent, int64_t seconds = 1) {
    clock.Advance(seconds * 1'000'000'000);
    vitals::internal::AgentAccess::Impl(agent).SweepIdle(clock.NowNanos());
  }
  vitals::Options TtlOptions(absl::Duration ttl) {
    vitals::Options o = Options();
    o.series_idle_ttl = ttl;
    return o;
  }
};

TEST_CASE_METHOD(Fixture, "an idle series of an opted-in family expires, and comes back from zero",
                 "[metrics][idle]") {
  vitals::Agent agent(TtlOptions(absl::Seconds(10)));
  auto calls = agent.AddCounter("peer_calls_total", "Calls.", {"peer"});
  REQUIRE(calls.ok());
  REQUIRE(calls->ExpireIdleSeries().ok());
  auto never = agent.AddCounter("other_calls_total", "Calls.", {"peer"});  // did not opt in
  REQUIRE(never.ok());

  calls->WithLabels({"gone"})->Increment(5);
  calls->WithLabels({"busy"})->Increment(1);
  never->WithLabels({"kept"})->Increment(3);
  const std::string gone = "peer_calls_total{peer=\"gone\"}";
  const std::string busy = "peer_calls_total{peer=\"busy\"}";
  const vitals::Counter stale = *calls->WithLabels({"gone"});
  int busy_total = 1;
  // Ten seconds of silence for "gone" is not enough: it goes after the TTL has passed since
  // the last sweep that saw it recorded, at most 1.3 TTL (three periods) after its record.
  int seconds = 0;
  while (CountLines(agent.RenderText(), gone) == 1) {
    REQUIRE(seconds < 14);
    calls->WithLabels({"busy"})->Increment();  // "busy" records every period: never goes
    ++busy_total;
    Tick(agent);
    ++seconds;
  }
  CHECK(seconds >= 10);
  const std::string body = agent.RenderText();
  CHECK(SampleValue(body, busy) == busy_total);                       // exact while it lives
  CHECK(SampleValue(body, "other_calls_total{peer=\"kept\"}") == 3);  // not opted in
  CHECK(SampleValue(body, "vitals_series_expired_total{metric=\"peer_calls_total\"}") == 1);
  CHECK(CountLines(body, "vitals_series_expired_total{metric=\"other_calls_total\"}") == 0);
  CHECK(SampleValue(body, "vitals_series{metric=\"peer_calls_total\"}") == 1);

  // A handle made before the expiry records nothing (as after Remove) and reads 0.
  stale.Increment(100);
  CHECK(stale.Value() == 0);
  CHECK(CountLines(agent.RenderText(), gone) == 0);
  // The labels resolved again: a new series, from zero.
  calls->WithLabels({"gone"})->Increment(2);
  CHECK(SampleValue(agent.RenderText(), gone) == 2);
}

TEST_CASE_METHOD(Fixture, "gauges and histograms expire too, and a Set is a record",
                 "[metrics][idle]") {
  vitals::Agent agent(TtlOptions(absl::Seconds(5)));
  auto weights = agent.AddGauge("peer_weight", "Weight.", {"peer"});
  auto latency = agent.AddHistogram("peer_seconds", "Latency.", {0.01, 0.1}, {"peer"});
  REQUIRE(weights->ExpireIdleSeries().ok());
  REQUIRE(latency->ExpireIdleSeries().ok());
  weights->WithLabels({"a"})->Set(7);
  weights->WithLabels({"b"})->Set(9);
  latency->WithLabels({"a"})->Observe(0.05);
  for (int i = 0; i < 12; ++i) {
    weights->WithLabels({"b"})->Set(9 + i);  // kept alive by its Sets
    Tick(agent);
  }
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "peer_weight{peer=\"a\"}") == 0);
  CHECK(SampleValue(body, "peer_weight{peer=\"b\"}") == 20);
  CHECK(CountLines(body, "peer_seconds_count{peer=\"a\"}") == 0);
  CHECK(SampleValue(body, "vitals_series_expired_total{metric=\"peer_seconds\"}") == 1);
}

TEST_CASE_METHOD(Fixture, "an expired series frees its place under the limit and its memory",
                 "[metrics][idle][cells]") {
  vitals::Options o = TtlOptions(absl::Seconds(2));
  o.series_limit = 100;
  vitals::Agent agent(o);
  auto calls = agent.AddCounter("shard_calls_total", "Calls.", {"shard"});
  REQUIRE(calls->ExpireIdleSeries().ok());
  vitals::internal::Family* family = FamilyNamed(agent, "shard_calls_total");
  REQUIRE(family != nullptr);
  // 2,000 shards seen ten at a time, each once: about 50 alive at a time (those of the last
  // TTL and up to three periods more), under the limit, so nothing overflows.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 10; ++i) {
      calls->WithLabels({"s" + std::to_string(round * 10 + i)})->Increment();
    }
    Tick(agent);
  }
  const std::string body = agent.RenderText();
  CHECK(CountLines(body, "shard_calls_total{shard=\"__overflow__\"}") == 0);
  CHECK(family->live_series() <= 60);
  CHECK(family->series_reused() >= 1900);  // the structs and cells of expired series
  CHECK(family->retiring_series() + family->reusable_series() <= 60);
  CHECK(family->expired_series() >= 1960);
}

TEST_CASE_METHOD(Fixture, "idle expiry is refused when it cannot apply", "[metrics][idle]") {
  vitals::Agent off(TtlOptions(absl::ZeroDuration()));
  auto calls = off.AddCounter("calls_total", "Calls.", {"peer"});
  absl::Status s = calls->ExpireIdleSeries();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(s.message(), "series_idle_ttl is 0"));
  CHECK(vitals::CounterFamily().ExpireIdleSeries().code() == absl::StatusCode::kFailedPrecondition);
  // A TTL below a second is refused; as for every optional value, the agent then logs it and
  // keeps the default rather than failing.
  vitals::Options bad = Options();
  bad.series_idle_ttl = absl::Milliseconds(10);
  absl::Status checked = vitals::ValidateOptions(bad);
  CHECK(checked.code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(checked.message(), "series_idle_ttl"));
  vitals::Agent agent(bad);
  CHECK(sink->Contains("series_idle_ttl"));
  CHECK(vitals::internal::AgentAccess::Impl(agent).options().series_idle_ttl == absl::Minutes(10));
}

}  // namespace
