// Objects bound to an agent that outlive it: each is destroyed (and used) after the agent, and
// records nothing instead of touching freed memory. The AddressSanitizer build turns any use of
// the freed agent into a failure; the plain build checks that nothing reaches a later agent.
//
// The shapes are the ones users write: a function-local `static` breaker or cache bound to an
// agent in main (destroyed after main's locals), a handle kept in a global, a scope or an
// operation still open when the agent goes.

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"
#include "vitals/lru_cache.h"

namespace {

using vitals_test::SampleValue;

std::unique_ptr<vitals::Agent> NewAgent() {
  vitals::Options o = vitals_test::QuietOptions();
  o.http_enabled = false;
  o.process_metrics = false;
  return std::make_unique<vitals::Agent>(o);
}

TEST_CASE("a circuit breaker bound to an agent works on, unmetered, after the agent is gone",
          "[lifetime]") {
  auto agent = NewAgent();
  vitals_test::FakeClock clock;
  vitals::CircuitBreakerOptions options;
  options.sliding_window_size = 4;
  options.minimum_number_of_calls = 4;
  options.clock = &clock;
  options.log_sink = std::make_shared<vitals_test::CapturingSink>();
  auto breaker = std::make_unique<vitals::CircuitBreaker>("inventory", options, agent.get());
  REQUIRE(breaker->status().ok());
  REQUIRE(breaker->Execute([] { return absl::OkStatus(); }).ok());
  CHECK(SampleValue(agent->RenderText(),
                    "resilience4j_circuitbreaker_calls_seconds_count{kind=\"successful\","
                    "name=\"inventory\"}") == 1);

  agent.reset();  // as main's locals go before a function-local static

  // Still a breaker: three failures fill the window of four past the failure rate and open it;
  // an open breaker refuses.
  for (int i = 0; i < 3; ++i) {
    CHECK(breaker->Execute([] { return absl::UnavailableError("down"); }).code() ==
          absl::StatusCode::kUnavailable);
  }
  CHECK(breaker->state() == vitals::CircuitBreaker::State::kOpen);
  absl::Status refused = breaker->Execute([] { return absl::OkStatus(); });
  CHECK(refused.code() == absl::StatusCode::kUnavailable);
  CHECK(refused.message() == "circuit breaker inventory is open: call not permitted");
  CHECK(breaker->not_permitted_calls() == 1);
  breaker.reset();  // unregistering from the freed registry would be a use after free
}

TEST_CASE("metric handles and families of a destroyed agent record nothing and read zero",
          "[lifetime]") {
  auto agent = NewAgent();
  auto counters = agent->AddCounter("orders_total", "Orders.", {"channel"});
  auto gauges = agent->AddGauge("queue_depth", "Depth.");
  auto histograms = agent->AddHistogram("work_seconds", "Work.", {0.1, 1});
  REQUIRE(counters.ok());
  REQUIRE(gauges.ok());
  REQUIRE(histograms.ok());
  vitals::Counter counter = *counters->WithLabels({"web"});
  vitals::Gauge gauge = *gauges->WithLabels({});
  vitals::Histogram histogram = *histograms->WithLabels({});
  counter.Increment();
  gauge.Set(3);
  histogram.Observe(0.5);
  CHECK(counter.Value() == 1);
  CHECK(histogram.Count() == 1);

  agent.reset();

  counter.Increment();
  gauge.Set(7);
  gauge.Add(1);
  histogram.Observe(0.5);
  histogram.Observe(
      0.5, vitals::TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
  CHECK(counter.Value() == 0);
  CHECK(gauge.Value() == 0);
  CHECK(histogram.Count() == 0);
  CHECK(histogram.Sum() == 0);
  absl::StatusOr<vitals::Counter> late = counters->WithLabels({"app"});
  CHECK(late.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(counters->name().empty());

  // A later agent reuses the freed slot and cells: the old handles must not write into it.
  auto next = NewAgent();
  auto next_counters = next->AddCounter("orders_total", "Orders.", {"channel"});
  REQUIRE(next_counters.ok());
  vitals::Counter fresh = *next_counters->WithLabels({"web"});
  counter.Increment(100);
  gauge.Set(100);
  CHECK(fresh.Value() == 0);
  fresh.Increment();
  CHECK(SampleValue(next->RenderText(), "orders_total{channel=\"web\"}") == 1);
}

TEST_CASE("request, database and outbound scopes still open when the agent goes end quietly",
          "[lifetime]") {
  auto agent = NewAgent();
  vitals::RouteHandle route = agent->Route("GET", "/users/:id");
  vitals::UpstreamHandle upstream = agent->Upstream("GET", "10.0.0.9", 9000);
  REQUIRE(route.valid());
  REQUIRE(upstream.valid());
  std::optional<vitals::RequestScope> request(std::in_place, route);
  std::optional<vitals::RequestDbScope> db_scope(std::in_place, route);
  std::optional<vitals::ClientCallScope> call(std::in_place, upstream);
  std::optional<vitals::DbOperation> op(std::in_place, *agent, "sqlite",
                                        "SELECT name FROM users WHERE id = 7");
  op->set_error("SQLITE_BUSY");
  call->set_status(200);
  CHECK(vitals::RequestContext::Current().active());

  agent.reset();

  CHECK_FALSE(route.valid());
  CHECK_FALSE(upstream.valid());
  op.reset();
  call.reset();
  db_scope.reset();
  CHECK(request->Finish() == absl::ZeroDuration());
  request.reset();
  // The thread's request bookkeeping was given back: nothing is current any more.
  CHECK_FALSE(vitals::RequestContext::Current().active());
  // Handles used afterwards do nothing.
  route.Record(200, absl::Milliseconds(1));
  route.AddActive(1);
  upstream.Record(200, absl::Milliseconds(1));
  upstream.RecordError(vitals::kErrorTimeout, absl::Milliseconds(1));
  { vitals::RequestScope late(route); }
  { vitals::ClientCallScope late(upstream); }
}

TEST_CASE("executor monitors, task scopes, pools and cache metrics outlive their agent",
          "[lifetime]") {
  auto agent = NewAgent();
  absl::StatusOr<vitals::ExecutorMonitor> pool = agent->Executor("reports");
  REQUIRE(pool.ok());
  vitals::TaskTicket ticket = pool->Submitted();
  std::optional<vitals::TaskScope> task(std::in_place, *pool, ticket, "render");
  vitals::DbPool db_pool = agent->Pool("main");
  vitals::CacheMetrics cache = agent->Cache("users");
  CHECK(cache.enabled());

  agent.reset();

  task.reset();
  CHECK_FALSE(pool->valid());
  CHECK_FALSE(pool->Submitted().submitted());
  CHECK(pool->CheckStalls() == 0);
  pool->SetPoolSize(4);
  { vitals::TaskScope late(*pool, vitals::TaskTicket(), "late"); }
  db_pool.AddUsed(1);
  db_pool.SetMax(10);
  db_pool.RecordWait(absl::Milliseconds(3));
  db_pool.Timeout();
  CHECK_FALSE(cache.enabled());
  cache.Hit();
  cache.SetMaxSize(10);
  cache.Load(absl::Milliseconds(1), false);
}

TEST_CASE("an LRU cache built with an agent keeps working after the agent and is destroyed safely",
          "[lifetime]") {
  auto agent = NewAgent();
  vitals::LruCache<int, std::string>::Options options;
  options.max_entries = 2;
  auto cache = std::make_unique<vitals::LruCache<int, std::string>>(*agent, "names", options);
  cache->Put(1, "one");
  REQUIRE(cache->Get(1).has_value());
  CHECK(SampleValue(agent->RenderText(), "cache_gets_total{cache=\"names\",result=\"hit\"}") == 1);

  agent.reset();

  cache->Put(2, "two");
  cache->Put(3, "three");  // evicts, counting nowhere
  CHECK(cache->Get(3) == std::optional<std::string>("three"));
  CHECK(cache->GetOrLoad(4, [] { return absl::StatusOr<std::string>("four"); }).value() == "four");
  cache.reset();
}

}  // namespace
