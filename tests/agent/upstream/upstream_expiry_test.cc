// Idle expiry of the outbound-call families (on by default: the instances a service calls come
// and go). The sweeps run on a fake clock, called directly (AgentImpl::SweepIdle); the churn
// test drives 100,000 distinct instances through it.

#include <malloc.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/core/cell_store.h"
#include "agent/root/agent_access.h"
#include "tests/support/agent_internals.h"
#include "tests/support/fakes.h"
#include "tests/support/fixtures.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/client.h"

namespace {

using vitals_test::CountLines;
using vitals_test::FamilyNamed;
using vitals_test::SampleValue;

std::string Count(const std::string& address, const std::string& status,
                  const std::string& error = "") {
  return absl::StrCat(
      "http_client_request_duration_seconds_count{http_request_method=\"GET\",server_address=\"",
      address, "\",server_port=\"80\",http_response_status_code=\"", status, "\",error_type=\"",
      error, "\"}");
}
std::string Active(const std::string& address) {
  return absl::StrCat("http_client_active_requests{http_request_method=\"GET\",server_address=\"",
                      address, "\",server_port=\"80\"}");
}

struct Fixture : vitals_test::ClockAndLog {
  void Tick(vitals::Agent& agent, int64_t seconds = 1) {
    clock.Advance(seconds * 1'000'000'000);
    vitals::internal::AgentAccess::Impl(agent).SweepIdle(clock.NowNanos());
  }
  vitals::internal::UpstreamMetrics& Upstreams(vitals::Agent& agent) {
    return *vitals::internal::AgentAccess::Impl(agent).upstreams();
  }
};

TEST_CASE_METHOD(Fixture, "outbound series expire by default, and a held handle brings them back",
                 "[upstream][idle]") {
  vitals::Options o = Options();
  CHECK(o.series_idle_ttl == absl::Minutes(10));  // the default
  o.series_idle_ttl = absl::Seconds(10);
  vitals::Agent agent(o);
  const vitals::UpstreamHandle held = agent.Upstream("GET", "10.0.0.1", 80);
  const vitals::UpstreamHandle busy = agent.Upstream("GET", "10.0.0.2", 80);
  held.Record(200, absl::Milliseconds(1));
  held.Record(200, absl::Milliseconds(1));
  held.RecordError(vitals::kErrorTimeout, absl::Milliseconds(1));
  int busy_calls = 0;
  for (int i = 0; i < 15; ++i) {
    busy.Record(200, absl::Milliseconds(1));
    ++busy_calls;
    Tick(agent);
  }
  std::string body = agent.RenderText();
  CHECK(CountLines(body, Count("10.0.0.1", "200")) == 0);
  CHECK(CountLines(body, Count("10.0.0.1", "", "timeout")) == 0);
  CHECK(CountLines(body, Active("10.0.0.1")) == 0);
  CHECK(SampleValue(body, Count("10.0.0.2", "200")) == busy_calls);
  CHECK(SampleValue(body,
                    "vitals_series_expired_total{metric=\""
                    "http_client_request_duration_seconds\"}") == 2);
  // The handle is still good: its next call makes its series again, from zero.
  {
    vitals::ClientCallScope call(held);
    CHECK(SampleValue(agent.RenderText(), Active("10.0.0.1")) == 1);
    call.set_status(200);
  }
  held.RecordError(vitals::kErrorTimeout, absl::Milliseconds(1));
  body = agent.RenderText();
  CHECK(SampleValue(body, Count("10.0.0.1", "200")) == 1);
  CHECK(SampleValue(body, Count("10.0.0.1", "", "timeout")) == 1);
  CHECK(SampleValue(body, Active("10.0.0.1")) == 0);
  // Its entry was kept for the handle (held), not freed.
  CHECK(Upstreams(agent).entries() + Upstreams(agent).retired_entries() == 2);
}

TEST_CASE_METHOD(Fixture, "a call in flight keeps its series however long it takes",
                 "[upstream][idle]") {
  vitals::Options o = Options();
  o.series_idle_ttl = absl::Seconds(5);
  vitals::Agent agent(o);
  {
    vitals::ClientCallScope call(agent.Upstream("GET", "slow", 80));  // the handle goes at once
    for (int i = 0; i < 30; ++i) Tick(agent);
    CHECK(SampleValue(agent.RenderText(), Active("slow")) == 1);
    CHECK(Upstreams(agent).entries() == 1);  // its entry is not freed under it
    call.set_status(200);
  }
  std::string body = agent.RenderText();
  CHECK(SampleValue(body, Count("slow", "200")) == 1);
  CHECK(SampleValue(body, Active("slow")) == 0);
  for (int i = 0; i < 12; ++i) Tick(agent);
  body = agent.RenderText();
  CHECK(CountLines(body, Active("slow")) == 0);
  CHECK(CountLines(body, Count("slow", "200")) == 0);
  CHECK(Upstreams(agent).entries() == 0);
  CHECK(Upstreams(agent).retired_entries() == 0);  // freed: no handle, no request in flight
}

TEST_CASE_METHOD(Fixture, "series_idle_ttl 0 keeps every outbound series", "[upstream][idle]") {
  vitals::Options o = Options();
  o.series_idle_ttl = absl::ZeroDuration();
  vitals::Agent agent(o);
  agent.Upstream("GET", "10.0.0.1", 80).Record(200, absl::Milliseconds(1));
  for (int i = 0; i < 100; ++i) Tick(agent, 3600);
  CHECK(SampleValue(agent.RenderText(), Count("10.0.0.1", "200")) == 1);
}

TEST_CASE("a started agent sweeps on its own thread, every tenth of the TTL", "[upstream][idle]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.series_idle_ttl = absl::Seconds(1);
  vitals::Agent agent(o);
  vitals::internal::AgentImpl& impl = vitals::internal::AgentAccess::Impl(agent);
  CHECK(impl.IdleSweepPeriod() == absl::Milliseconds(100));
  REQUIRE(agent.Start().ok());
  agent.Upstream("GET", "10.0.0.1", 80).Record(200, absl::Milliseconds(1));
  CHECK(CountLines(agent.RenderText(), Count("10.0.0.1", "200")) == 1);
  // Gone within the TTL and three periods (1.3 s); polled, with a generous bound for a busy CI.
  CHECK(vitals_test::WaitUntil(
      [&] { return CountLines(agent.RenderText(), Count("10.0.0.1", "200")) == 0; }));
  agent.Stop();
  // The period follows the TTL within its bounds.
  o.series_idle_ttl = absl::Minutes(10);
  CHECK(
      vitals::internal::AgentAccess::Impl(*std::make_unique<vitals::Agent>(o)).IdleSweepPeriod() ==
      absl::Seconds(30));
  o.series_idle_ttl = absl::Seconds(50);
  CHECK(
      vitals::internal::AgentAccess::Impl(*std::make_unique<vitals::Agent>(o)).IdleSweepPeriod() ==
      absl::Seconds(5));
}

// The test: 100,000 distinct instances over time, 50 new ones each second (each called
// four times, then its handle dropped), beside one instance called every second for good.
TEST_CASE_METHOD(Fixture,
                 "100,000 instances churning: memory flat, exposition bounded, totals exact",
                 "[upstream][idle][cells]") {
  vitals::Options o = Options();
  o.series_idle_ttl = absl::Seconds(10);
  o.series_limit = 5000;
  vitals::Agent agent(o);
  vitals::internal::Family* duration = FamilyNamed(agent, "http_client_request_duration_seconds");
  vitals::internal::Family* active = FamilyNamed(agent, "http_client_active_requests");
  REQUIRE(duration != nullptr);
  REQUIRE(active != nullptr);
  vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
  const vitals::UpstreamHandle steady = agent.Upstream("GET", "steady", 80);
  int steady_calls = 0;
  constexpr int kPerSecond = 50;
  constexpr int kInstances = 100000;
  size_t chunks_after_warmup = 0;
  size_t heap_after_warmup = 0;
  size_t most_series = 0, most_entries = 0;
  int most_lines = 0;
  for (int second = 0; second * kPerSecond < kInstances; ++second) {
    for (int i = 0; i < kPerSecond; ++i) {
      const int n = second * kPerSecond + i;
      const std::string address =
          absl::StrCat("10.", n / 65536, ".", (n / 256) % 256, ".", n % 256);
      const vitals::UpstreamHandle h = agent.Upstream("GET", address, 80);
      h.Record(200, absl::Microseconds(300));
      h.Record(200, absl::Microseconds(400));
      h.Record(503, absl::Microseconds(100));
      vitals::ClientCallScope call(h);
      call.set_error(vitals::kErrorTimeout);
    }
    steady.Record(200, absl::Microseconds(250));
    ++steady_calls;
    Tick(agent);
    most_series = std::max(most_series, duration->live_series() + active->live_series());
    most_entries =
        std::max(most_entries, Upstreams(agent).entries() + Upstreams(agent).retired_entries());
    if (second == 200) {  // 10,000 instances in: the steady state
      chunks_after_warmup = store.chunk_count();
      heap_after_warmup = mallinfo2().uordblks;
      most_lines = CountLines(agent.RenderText(), "http_client_request_duration_seconds_count{");
    }
    if (second > 200 && second % 100 == 0) {
      most_lines = std::max(most_lines, CountLines(agent.RenderText(),
                                                   "http_client_request_duration_seconds_count{"));
    }
  }
  const size_t heap_now = mallinfo2().uordblks;  // before the render's own (large) string
  const std::string body = agent.RenderText();
  // Exposition bounded: the instances of the last TTL (and up to three periods more), three
  // duration series each, plus the steady one; nothing overflowed.
  INFO("most series " << most_series << ", most entries " << most_entries << ", most lines "
                      << most_lines);
  CHECK(most_lines <= 3 * kPerSecond * 14 + 1);
  CHECK(most_series <= 4 * kPerSecond * 14 + 2);
  CHECK(most_entries <= kPerSecond * 16 + 1);
  CHECK(CountLines(body, "server_address=\"__overflow__\"") == 0);
  // Memory flat: expired series' structs and cells reused, entries freed; no new cell chunk and
  // (where malloc is not a sanitizer's) the heap in use within 8 MiB of the warm-up's.
  CHECK(duration->series_reused() >= 3 * (kInstances - 20 * kPerSecond));
  // (A series written often moves to per-CPU cells once, which may take one chunk.)
  CHECK(store.chunk_count() <= chunks_after_warmup + 1);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  INFO("heap in use after warm-up " << heap_after_warmup << ", at the end " << heap_now);
  CHECK(heap_now < heap_after_warmup + (8u << 20));
#else
  (void)heap_after_warmup;
  (void)heap_now;
#endif
  // Exact totals for live series: the steady instance, and the last second's instances.
  CHECK(SampleValue(body, Count("steady", "200")) == steady_calls);
  const int last = kInstances - 1;
  const std::string address =
      absl::StrCat("10.", last / 65536, ".", (last / 256) % 256, ".", last % 256);
  CHECK(SampleValue(body, Count(address, "200")) == 2);
  CHECK(SampleValue(body, Count(address, "503", "503")) == 1);
  CHECK(SampleValue(body, Count(address, "", "timeout")) == 1);
  CHECK(SampleValue(body, Active(address)) == 0);
  CHECK(SampleValue(body,
                    "vitals_series_expired_total{metric=\""
                    "http_client_request_duration_seconds\"}") >=
        3 * (kInstances - 20 * kPerSecond));
}

// Writers record through held handles and fresh ones while a sweeper expires what goes idle,
// in lockstep rounds (a writer starts round k once sweep k-1 is done; sweep k waits for every
// writer's round k-1, and runs while they do round k): the steady series, recorded every
// round, never expires and its totals stay exact; under ThreadSanitizer.
TEST_CASE_METHOD(Fixture, "writers racing the sweeper: live totals exact, nothing misfiled",
                 "[upstream][idle][concurrency]") {
  vitals::Options o = Options();
  o.series_idle_ttl = absl::Seconds(3);
  vitals::Agent agent(o);
  auto user = agent.AddCounter("shard_calls_total", "Calls.", {"shard"});
  REQUIRE(user->ExpireIdleSeries().ok());
  constexpr int kWriters = 4;
  constexpr int kRounds = 300;
  std::atomic<int> sweeps_done{0};
  std::vector<std::atomic<int>> rounds_done(kWriters);
  for (auto& r : rounds_done) r.store(0);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const vitals::UpstreamHandle steady = agent.Upstream("GET", absl::StrCat("steady", w), 80);
      for (int k = 1; k <= kRounds; ++k) {
        while (sweeps_done.load() < k - 1) std::this_thread::yield();
        steady.Record(200, absl::Microseconds(100));
        {
          vitals::ClientCallScope call(steady);
          call.set_status(201);
        }
        steady.RecordError(vitals::kErrorTimeout, absl::Microseconds(100));
        user->WithLabels({absl::StrCat("steady", w)})->Increment();
        const std::string fresh = absl::StrCat("w", w, "-", k);
        agent.Upstream("GET", fresh, 80).Record(200, absl::Microseconds(100));
        user->WithLabels({fresh})->Increment();
        rounds_done[w].store(k);
      }
    });
  }
  for (int k = 1; k <= kRounds; ++k) {
    for (auto& r : rounds_done) {
      while (r.load() < k - 1) std::this_thread::yield();
    }
    Tick(agent);
    sweeps_done.store(k);
  }
  for (auto& t : writers) t.join();
  const std::string body = agent.RenderText();
  for (int w = 0; w < kWriters; ++w) {
    const std::string steady = absl::StrCat("steady", w);
    CHECK(SampleValue(body, Count(steady, "200")) == kRounds);
    CHECK(SampleValue(body, Count(steady, "201")) == kRounds);
    CHECK(SampleValue(body, Count(steady, "", "timeout")) == kRounds);
    CHECK(SampleValue(body, Active(steady)) == 0);
    CHECK(SampleValue(body, absl::StrCat("shard_calls_total{shard=\"", steady, "\"}")) == kRounds);
    // The last rounds' fresh instances are alive, each with its one call.
    const std::string fresh = absl::StrCat("w", w, "-", kRounds);
    CHECK(SampleValue(body, Count(fresh, "200")) == 1);
    CHECK(SampleValue(body, absl::StrCat("shard_calls_total{shard=\"", fresh, "\"}")) == 1);
  }
  // The early ones have gone; none of their records landed under other labels (every live
  // series counts 1, or kRounds for the steady ones).
  CHECK(CountLines(body, Count("w0-1", "200")) == 0);
  CHECK(CountLines(body, "shard_calls_total{shard=\"w0-1\"}") == 0);
  CHECK(CountLines(body, "http_client_request_duration_seconds_count{") <
        kWriters * 2 + kWriters * 12);
}

}  // namespace
