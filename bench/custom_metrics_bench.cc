// What the metric API of issue 30 costs: scrape-time callbacks per scrape, and removing a
// series (and making its label set again) next to prometheus-cpp's Family::Remove. The handle
// records themselves are metrics_bench's BM_Counter_* and BM_Observe_* (BENCHMARKS.md).
//
//   build/bench/custom_metrics_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "vitals/agent.h"

namespace {

vitals::Options Quiet() {
  vitals::Options o;
  o.read_environment = false;
  o.process_metrics = false;  // a scrape of the custom families only, plus the agent's own
  return o;
}

// --- a scrape with N families, set by callbacks or by handles beforehand ---

void BM_ScrapeGaugeCallbacks(benchmark::State& state) {
  vitals::Agent agent(Quiet());
  std::vector<vitals::CallbackRegistration> regs;
  double value = 1;
  for (int64_t i = 0; i < state.range(0); ++i) {
    regs.push_back(*agent.AddGaugeCallback("cb_gauge_" + std::to_string(i), "A callback gauge.",
                                           [&value] { return value; }));
  }
  for (auto _ : state) benchmark::DoNotOptimize(agent.RenderText());
  state.counters["callbacks"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_ScrapeGaugeCallbacks)->Arg(0)->Arg(10)->Arg(100)->UseRealTime();

void BM_ScrapeGaugeHandles(benchmark::State& state) {
  vitals::Agent agent(Quiet());
  for (int64_t i = 0; i < state.range(0); ++i) {
    agent.GetGauge("set_gauge_" + std::to_string(i), "A gauge set by its handle.")->Set(1);
  }
  for (auto _ : state) benchmark::DoNotOptimize(agent.RenderText());
}
BENCHMARK(BM_ScrapeGaugeHandles)->Arg(0)->Arg(10)->Arg(100)->UseRealTime();

// One callback observing 100 series of one family per scrape.
void BM_ScrapeObserver100(benchmark::State& state) {
  vitals::Agent agent(Quiet());
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back("pool-" + std::to_string(i));
  auto reg = agent.AddGaugeCallback("cb_pool_connections", "Connections.", {"pool"},
                                    [&names](vitals::CallbackObserver& o) {
                                      for (const std::string& n : names) {
                                        if (absl::Status s = o.Observe(3, {n}); !s.ok()) return s;
                                      }
                                      return absl::OkStatus();
                                    });
  for (auto _ : state) benchmark::DoNotOptimize(agent.RenderText());
}
BENCHMARK(BM_ScrapeObserver100)->UseRealTime();

// --- removing a series and making its label set again ---

void BM_RemoveRecreate_Vitals(benchmark::State& state) {
  vitals::Agent agent(Quiet());
  auto family = agent.AddCounter("peer_calls_total", "Calls.", {"peer"});
  for (int i = 0; i < 100; ++i) family->WithLabels({"peer-" + std::to_string(i)})->Increment();
  for (auto _ : state) {
    (void)family->Remove({"peer-7"});
    family->WithLabels({"peer-7"})->Increment();
  }
}
BENCHMARK(BM_RemoveRecreate_Vitals)->UseRealTime();

void BM_RemoveRecreate_PrometheusCpp(benchmark::State& state) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family =
      prometheus::BuildCounter().Name("peer_calls_total").Help("Calls.").Register(*registry);
  for (int i = 0; i < 100; ++i) family.Add({{"peer", "peer-" + std::to_string(i)}}).Increment();
  for (auto _ : state) {
    family.Remove(&family.Add({{"peer", "peer-7"}}));
    family.Add({{"peer", "peer-7"}}).Increment();
  }
}
BENCHMARK(BM_RemoveRecreate_PrometheusCpp)->UseRealTime();

}  // namespace

void BenchSetup() {}
