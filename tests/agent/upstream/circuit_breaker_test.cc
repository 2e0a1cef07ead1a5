// CircuitBreaker driven with an injected clock through every transition, its metrics under
// resilience4j's names, and concurrent use.

#include "vitals/circuit_breaker.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals::CircuitBreaker;
using vitals_test::SampleValue;
using State = CircuitBreaker::State;

struct Fixture : vitals_test::ClockAndLog {
  vitals::CircuitBreakerOptions Breaker() {
    vitals::CircuitBreakerOptions o;
    o.sliding_window_size = 10;
    o.minimum_number_of_calls = 5;
    o.failure_rate_threshold = 50;
    o.wait_duration_in_open_state = absl::Seconds(30);
    o.permitted_calls_in_half_open_state = 3;
    o.slow_call_duration_threshold = absl::Seconds(1);
    o.clock = &clock;
    o.log_sink = sink;
    return o;
  }
  // One call through `b` with the given outcome; false when it was not permitted.
  static bool Call(CircuitBreaker& b, bool ok, absl::Duration d = absl::Milliseconds(5)) {
    auto permit = b.TryAcquire();
    if (!permit) return false;
    ok ? b.OnSuccess(permit, d) : b.OnFailure(permit, d);
    return true;
  }
};

TEST_CASE_METHOD(Fixture, "circuit breaker: opens at the failure rate, waits, probes, closes",
                 "[breaker]") {
  CircuitBreaker b("inventory", Breaker());
  REQUIRE(b.status().ok());
  CHECK(b.state() == State::kClosed);
  // Under the minimum number of calls nothing is decided, whatever the failures.
  for (int i = 0; i < 4; ++i) REQUIRE(Call(b, false));
  CHECK(b.failure_rate() == -1);
  CHECK(b.state() == State::kClosed);
  // Five calls, four failed: 80% >= 50%: open.
  REQUIRE(Call(b, true));
  CHECK(b.state() == State::kOpen);
  // Open: every call refused, and counted.
  CHECK_FALSE(Call(b, true));
  CHECK_FALSE(Call(b, true));
  CHECK(b.not_permitted_calls() == 2);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)) - 1);
  CHECK_FALSE(Call(b, true));
  // The wait is over: half-open, three probes and no more.
  clock.Advance(1);
  auto p1 = b.TryAcquire(), p2 = b.TryAcquire(), p3 = b.TryAcquire(), p4 = b.TryAcquire();
  CHECK(b.state() == State::kHalfOpen);
  CHECK(p1);
  CHECK(p2);
  CHECK(p3);
  CHECK_FALSE(p4);
  b.OnSuccess(p1, absl::Milliseconds(3));
  b.OnSuccess(p2, absl::Milliseconds(3));
  CHECK(b.state() == State::kHalfOpen);
  b.OnFailure(p3, absl::Milliseconds(3));  // 1 of 3 failed: 33% < 50%: closed
  CHECK(b.state() == State::kClosed);
  CHECK(b.failure_rate() == -1);  // a fresh window
  const auto lines = sink->lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("WARNING circuit breaker \"inventory\": closed -> open (failure rate "
                      "80.0% of the last 5 calls (threshold 50.0%))") == 0);
  CHECK(lines[1].find("\"inventory\": open -> half_open") != std::string::npos);
  CHECK(lines[2].find("\"inventory\": half_open -> closed (3 probe calls: failure rate 33.3%") !=
        std::string::npos);
}

TEST_CASE_METHOD(Fixture, "circuit breaker: failed probes open it again for another wait",
                 "[breaker]") {
  CircuitBreaker b("x", Breaker());
  for (int i = 0; i < 5; ++i) Call(b, false);
  REQUIRE(b.state() == State::kOpen);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  REQUIRE(Call(b, false));
  REQUIRE(Call(b, false));
  REQUIRE(Call(b, true));
  CHECK(b.state() == State::kOpen);  // 2 of 3 failed
  CHECK_FALSE(Call(b, true));
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  CHECK(Call(b, true));
  CHECK(b.state() == State::kHalfOpen);
}

TEST_CASE_METHOD(Fixture, "circuit breaker: the window slides, and old outcomes leave it",
                 "[breaker]") {
  vitals::CircuitBreakerOptions o = Breaker();
  o.failure_rate_threshold = 60;
  CircuitBreaker c("y", o);
  for (int i = 0; i < 10; ++i) REQUIRE(Call(c, true));
  for (int i = 0; i < 5; ++i) REQUIRE(Call(c, false));  // window: 5 ok, 5 failed: 50%
  CHECK(c.failure_rate() == 50);
  CHECK(c.state() == State::kClosed);
  REQUIRE(Call(c, false));  // the oldest success leaves: 6 of 10 failed: 60%
  CHECK(c.state() == State::kOpen);
}

TEST_CASE_METHOD(Fixture, "circuit breaker: consecutive failures, slow calls", "[breaker]") {
  vitals::CircuitBreakerOptions o = Breaker();
  o.minimum_number_of_calls = 10;
  o.consecutive_failures = 3;
  CircuitBreaker b("x", o);
  Call(b, false);
  Call(b, false);
  Call(b, true);  // the run is broken
  Call(b, false);
  Call(b, false);
  CHECK(b.state() == State::kClosed);
  Call(b, false);
  CHECK(b.state() == State::kOpen);
  CHECK(sink->lines().back().find("3 consecutive failures (threshold 3)") != std::string::npos);

  vitals::CircuitBreakerOptions s = Breaker();
  s.slow_call_rate_threshold = 80;
  CircuitBreaker slow("slow", s);
  for (int i = 0; i < 4; ++i) Call(slow, true, absl::Seconds(2));  // slow, but successful
  CHECK(slow.state() == State::kClosed);                           // under the minimum
  CHECK(slow.slow_call_rate() == -1);
  Call(slow, true);  // the fifth call: 4 of 5 slow, 80% >= 80%
  CHECK(slow.state() == State::kOpen);
  CHECK(sink->lines().back().find("slow-call rate 80.0% of the last 5 calls") != std::string::npos);
  // With slow_calls_are_failures a slow success also counts as a failure.
  vitals::CircuitBreakerOptions f = Breaker();
  f.slow_calls_are_failures = true;
  CircuitBreaker strict("strict", f);
  for (int i = 0; i < 4; ++i) Call(strict, true, absl::Seconds(2));
  Call(strict, true);
  CHECK(strict.state() == State::kOpen);  // 4 of 5 "failed": 80% >= 50%
}

TEST_CASE_METHOD(Fixture, "circuit breaker: stale permits, ignored calls, bad options",
                 "[breaker]") {
  CircuitBreaker b("x", Breaker());
  auto early = b.TryAcquire();  // permitted while closed...
  for (int i = 0; i < 5; ++i) Call(b, false);
  REQUIRE(b.state() == State::kOpen);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  auto p1 = b.TryAcquire(), p2 = b.TryAcquire(), p3 = b.TryAcquire();
  REQUIRE(b.state() == State::kHalfOpen);
  b.OnFailure(early, absl::Milliseconds(1));  // ...ends in half-open: not a probe, not counted
  b.OnIgnored(p3, absl::Milliseconds(1));     // gives its probe back
  auto p4 = b.TryAcquire();
  CHECK(p4);
  b.OnSuccess(p1, absl::Milliseconds(1));
  b.OnSuccess(p2, absl::Milliseconds(1));
  CHECK(b.state() == State::kHalfOpen);
  b.OnSuccess(p4, absl::Milliseconds(1));
  CHECK(b.state() == State::kClosed);

  vitals::CircuitBreakerOptions bad = Breaker();
  bad.minimum_number_of_calls = 11;  // > window
  CircuitBreaker d("bad", bad);
  CHECK(d.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(d.status().message().find("minimum_number_of_calls") != absl::string_view::npos);
  for (int i = 0; i < 99; ++i) Call(d, false);  // the defaults: 100 calls before deciding
  CHECK(d.state() == State::kClosed);
  Call(d, false);
  CHECK(d.state() == State::kOpen);
}

TEST_CASE_METHOD(Fixture,
                 "circuit breaker: probes that never report cannot hold it half-open past the max "
                 "wait",
                 "[breaker]") {
  vitals::CircuitBreakerOptions o = Breaker();
  o.permitted_calls_in_half_open_state = 2;
  o.max_wait_duration_in_half_open_state = absl::Seconds(5);
  CircuitBreaker b("inventory", o);
  for (int i = 0; i < 5; ++i) Call(b, false);
  REQUIRE(b.state() == State::kOpen);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  auto lost1 = b.TryAcquire(), lost2 = b.TryAcquire();  // their callers never report
  REQUIRE(lost1);
  REQUIRE(lost2);
  CHECK(b.state() == State::kHalfOpen);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(5)) - 1);
  CHECK_FALSE(b.TryAcquire());
  CHECK(b.state() == State::kHalfOpen);
  clock.Advance(1);
  CHECK_FALSE(b.TryAcquire());  // the max wait is over: open again, this call refused
  CHECK(b.state() == State::kOpen);
  const auto lines = sink->lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[2].find("half_open -> open (2 of 2 probe calls let through, not all finished "
                      "within max_wait_duration_in_half_open_state 5s)") != std::string::npos);
  // A late outcome of a lost probe belongs to a state that is gone.
  b.OnSuccess(lost1, absl::Milliseconds(1));
  CHECK(b.state() == State::kOpen);
  // The next wait, fresh probes that report: closed.
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  REQUIRE(Call(b, true));
  REQUIRE(Call(b, true));
  CHECK(b.state() == State::kClosed);
  // Without a max wait (resilience4j's default) a lost probe keeps it half-open.
  CircuitBreaker forever("forever", Breaker());
  for (int i = 0; i < 5; ++i) Call(forever, false);
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(30)));
  for (int i = 0; i < 3; ++i) REQUIRE(forever.TryAcquire());
  clock.Advance(absl::ToInt64Nanoseconds(absl::Hours(1)));
  CHECK_FALSE(forever.TryAcquire());
  CHECK(forever.state() == State::kHalfOpen);
  o.max_wait_duration_in_half_open_state = absl::Seconds(-1);
  CHECK(CircuitBreaker::Validate(o).message().find("max_wait_duration_in_half_open_state") !=
        absl::string_view::npos);
}

TEST_CASE_METHOD(Fixture, "circuit breaker metrics: resilience4j's names and values", "[breaker]") {
  vitals::Agent agent(Options());
  vitals::CircuitBreakerOptions o = Breaker();
  o.clock = nullptr;  // the agent's (the fixture's fake clock)
  o.log_sink = nullptr;
  CircuitBreaker b("inventory", o, &agent);
  REQUIRE(b.status().ok());
  std::string body = agent.RenderText();
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_state{name=\"inventory\",state=\"closed\"}") == 1);
  CHECK(SampleValue(body, "resilience4j_circuitbreaker_failure_rate{name=\"inventory\"}") == -1);
  Call(b, true);
  for (int i = 0; i < 4; ++i) Call(b, false);
  Call(b, true);  // refused: open
  body = agent.RenderText();
  INFO(body.substr(body.find("resilience4j"), 3000));
  CHECK(SampleValue(body, "resilience4j_circuitbreaker_state{name=\"inventory\",state=\"open\"}") ==
        1);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_state{name=\"inventory\",state=\"closed\"}") == 0);
  CHECK(SampleValue(
            body, "resilience4j_circuitbreaker_state{name=\"inventory\",state=\"forced_open\"}") ==
        0);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_calls_seconds_count{kind=\"successful\","
                    "name=\"inventory\"}") == 1);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_calls_seconds_count{kind=\"failed\","
                    "name=\"inventory\"}") == 4);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_not_permitted_calls_total{kind=\"not_"
                    "permitted\",name=\"inventory\"}") == 1);
  // The window of the state that opened is gone with it: the gauges read the new state's.
  CHECK(SampleValue(body, "resilience4j_circuitbreaker_failure_rate{name=\"inventory\"}") == -1);
  // The state change went to the agent's log.
  bool logged = false;
  for (const auto& line : sink->lines()) logged |= line.find("closed -> open") != std::string::npos;
  CHECK(logged);
}

TEST_CASE_METHOD(Fixture, "circuit breaker metrics: window gauges are current at every scrape",
                 "[breaker]") {
  vitals::Agent agent(Options());
  auto b = std::make_unique<CircuitBreaker>("stock", Breaker(), &agent);
  REQUIRE(b->status().ok());
  for (int i = 0; i < 4; ++i) Call(*b, true);
  Call(*b, false);
  Call(*b, false, absl::Seconds(2));  // slow and failed
  std::string body = agent.RenderText();
  INFO(body.substr(body.find("resilience4j"), 3000));
  CHECK(b->state() == State::kClosed);  // 2 of 6: 33% < 50%
  CHECK(SampleValue(body, "resilience4j_circuitbreaker_failure_rate{name=\"stock\"}") ==
        Approx(100.0 / 3));
  CHECK(SampleValue(body, "resilience4j_circuitbreaker_slow_call_rate{name=\"stock\"}") ==
        Approx(100.0 / 6));
  CHECK(SampleValue(
            body,
            "resilience4j_circuitbreaker_buffered_calls{kind=\"successful\",name=\"stock\"}") == 4);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_buffered_calls{kind=\"failed\",name=\"stock\"}") ==
        2);
  CHECK(SampleValue(body,
                    "resilience4j_circuitbreaker_slow_calls{kind=\"failed\",name=\"stock\"}") == 1);
  Call(*b, true);
  CHECK(
      SampleValue(agent.RenderText(), "resilience4j_circuitbreaker_failure_rate{name=\"stock\"}") ==
      Approx(200.0 / 7));
  // A breaker that is gone stops refreshing; its last values stay and scrapes go on.
  b.reset();
  CHECK(
      SampleValue(agent.RenderText(), "resilience4j_circuitbreaker_failure_rate{name=\"stock\"}") ==
      Approx(200.0 / 7));
}

TEST_CASE_METHOD(Fixture, "circuit breaker: concurrent callers keep its transitions valid",
                 "[breaker][concurrency]") {
  vitals::CircuitBreakerOptions o = Breaker();
  o.wait_duration_in_open_state = absl::Milliseconds(1);
  CircuitBreaker b("x", o);
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<uint64_t> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      uint64_t n = static_cast<uint64_t>(t);
      while (!stop.load(std::memory_order_relaxed)) {
        ++n;
        // Phases of 256 calls that all fail, then all succeed: it opens, probes and closes.
        if (Call(b, (n / 256) % 2 == 0)) calls.fetch_add(1);
        if (n % 64 == 0) clock.AdvanceMs(1);
      }
    });
  }
  while (ready.load() < 4) std::this_thread::yield();
  while (calls.load() < 200000) std::this_thread::yield();
  stop.store(true);
  for (auto& t : threads) t.join();
  int opened = 0, half = 0, closed = 0;
  for (const auto& line : sink->lines()) {
    if (line.find("-> open") != std::string::npos) {
      ++opened;
    } else if (line.find("open -> half_open") != std::string::npos) {
      ++half;
    } else if (line.find("half_open -> closed") != std::string::npos) {
      ++closed;
    } else {
      FAIL("unexpected line: " << line);
    }
  }
  INFO("opened " << opened << ", half-open " << half << ", closed " << closed);
  CHECK(opened > 0);
  CHECK(closed > 0);
  CHECK(half <= opened);
  CHECK(closed <= half);
}

}  // namespace
