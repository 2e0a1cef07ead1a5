// A steady-state scrape of the agent's own families allocates nothing (exporters/
// prometheus_exporter.h says so): this program counts every operator new, renders once to let
// the pooled body and scratch grow, then renders again and wants zero allocations, in each
// format. Its own executable, since it replaces the global operator new.

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>
#include <string>

#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "tests/support/fakes.h"
#include "vitals/agent.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using vitals::exporters::ExpositionFormat;

TEST_CASE("a steady-state render of the agent's families allocates nothing, in every format",
          "[exporters]") {
  vitals::Options o = vitals_test::QuietOptions();
  o.http_enabled = false;  // no threads of the agent's own that could allocate meanwhile
  o.process_metrics = false;
  vitals::Agent agent(o);
  // Requests on 200 routes (with traces: exemplars), a cache, a pool, a database statement, a
  // breaker and a family of the service's own.
  for (int i = 0; i < 200; ++i) {
    vitals::RouteHandle route = agent.Route(i % 2 ? "GET" : "POST", "/r" + std::to_string(i));
    route.Record(
        200, absl::Microseconds(30 * i),
        vitals::TraceContext::FromHex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
  }
  agent.Cache("users").Hit();
  agent.Pool("main").SetMax(4);
  agent.RecordDbOperation("sqlite", "SELECT 1 FROM t", absl::Microseconds(70));
  vitals::CircuitBreaker breaker("inventory", {}, &agent);
  auto orders = agent.AddCounter("orders_total", "Orders.", {"channel"});
  REQUIRE(orders.ok());
  orders->WithLabels({"web"})->Increment();

  auto& exporter = vitals::internal::AgentAccess::Impl(agent).prometheus();
  for (ExpositionFormat format :
       {ExpositionFormat::kText, ExpositionFormat::kOpenMetrics, ExpositionFormat::kProtobuf}) {
    std::string body;
    exporter.Render(body, format);  // the first render grows the body and the pooled scratch
    const size_t size = body.size();
    const long before = g_allocations.load();
    exporter.Render(body, format);
    const long allocations = g_allocations.load() - before;
    INFO("format " << static_cast<int>(format) << ", " << size << " bytes");
    CHECK(body.size() > 10000);
    CHECK(allocations == 0);
  }
}

}  // namespace
