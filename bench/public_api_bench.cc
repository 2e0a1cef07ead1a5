// The hot path through the public API only, linked the way users link vitals: against the
// static libvitals.a in a default build, against libvitals.so in a -DVITALS_SHARED=ON build.
// Run it in both builds to see what the shared library costs the inline record paths (nothing
// is expected: they reach the library only through exported globals and their slow adds):
//
//   build/bench/public_api_bench --benchmark_repetitions=5 --benchmark_min_time=0.3 \
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// (BENCHMARKS.md, "Static and shared"). No internal header is included: this program would
// not link against the shared library otherwise.

#include <benchmark/benchmark.h>

#include <vector>

#include "vitals/agent.h"

namespace {

vitals::Agent* g_agent;
vitals::Histogram g_hist;
vitals::Counter g_counter;
vitals::RouteHandle g_route;

void BM_Public_HistogramObserve(benchmark::State& state) {
  double v = 0;
  for (auto _ : state) {
    g_hist.Observe(v);
    v = v < 1.0 ? v + 0.001 : 0;
  }
}
BENCHMARK(BM_Public_HistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

void BM_Public_CounterIncrement(benchmark::State& state) {
  for (auto _ : state) g_counter.Increment();
}
BENCHMARK(BM_Public_CounterIncrement)->Threads(1)->Threads(2)->UseRealTime();

void BM_Public_RequestScope(benchmark::State& state) {
  for (auto _ : state) {
    vitals::RequestScope scope(g_route);
    scope.set_status(200);
  }
}
BENCHMARK(BM_Public_RequestScope)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

void BenchSetup() {
  vitals::Options o;
  o.read_environment = false;
  o.http_enabled = false;
  o.process_metrics = false;
  g_agent = new vitals::Agent(o);
  const std::vector<double> buckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
  g_hist = *g_agent->AddHistogram("bench_seconds", "Bench.", buckets)->WithLabels({});
  g_counter = *g_agent->AddCounter("bench_total", "Bench.")->WithLabels({});
  g_route = g_agent->Route("GET", "/users/:id");
}
