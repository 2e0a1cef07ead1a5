// Memory per series and scrape time on an emulated big host (issue 31).
//
//   VITALS_BENCH_CPUS=96 build/bench/big_host_bench --benchmark_filter=Classic10k
//
// A series starts with one shared copy of its cells and moves to per-CPU cells (one copy per
// CPU) when it is written often, while all per-CPU cells stay within
// Options::per_cpu_memory_mib (16 MiB; VITALS_BENCH_PER_CPU_MIB sets another, e.g. 100000 for
// the unbounded per-CPU form of before). On a 96-CPU host whose threads migrate over every
// CPU, every copy of a busy series is written; this machine has 2 CPUs. The program makes the
// store keep VITALS_BENCH_CPUS copies (EmulateCpusForBenchmark, before anything uses it),
// creates the series through the public API, records each one 300 times (enough to promote
// it, as a busy series would be, while the limit allows), writes every CPU's copy of each
// promoted one as threads that ran on every CPU would have, and reports the resident memory
// that took per series (from /proc/self/statm), the series promoted, and the time to render
// the family (median of five renders), next to prometheus-cpp with the same series and
// buckets. Each benchmark measures once: run one per process (BENCHMARKS.md has the loop),
// since freed heap would hide a later one's growth.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/cell_store.h"
#include "agent/core/family.h"
#include "agent/root/agent_access.h"
#include "agent/root/agent_impl.h"
#include "exporters/text_format.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "vitals/agent.h"

namespace {

// A classic histogram of 14 bounds (15 buckets with +Inf), as BENCHMARKS.md's memory table.
const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                      0.5,   0.75, 1,     2.5,  5,     7.5, 10};

vitals::Agent* g_agent = nullptr;

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

template <typename Fn>
double MedianMillis(Fn&& fn) {
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[2];
}

void Vitals(benchmark::State& state, int series, bool native) {
  vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
  for (auto _ : state) {
    vitals::HistogramFeatures features;
    features.native = native;
    const std::string name = native ? "bench_native_seconds" : "bench_classic_seconds";
    auto family = *g_agent->AddHistogram(name, "Bench.", kBuckets, {"i"}, features);
    const size_t rss_before = ResidentBytes();
    const size_t promoted_before = store.promoted_bytes();
    const size_t series_before = store.promoted_series();
    for (int i = 0; i < series; ++i) {
      vitals::Histogram h = *family.WithLabels({std::to_string(i)});
      for (int r = 0; r < 300; ++r) h.Observe(0.01);
    }
    vitals::internal::Family* f = nullptr;
    auto& registry = vitals::internal::AgentAccess::Impl(*g_agent).registry();
    registry.ForEachFamily([&](vitals::internal::Family& each) {
      if (each.name() == name) f = &each;
    });
    // Every CPU's copy of every cell of every promoted series, as migrating threads would
    // write them.
    double shared_bytes = 0;
    f->Visit([&](const vitals::internal::Series& s, const double*) {
      shared_bytes += static_cast<double>(store.SharedBytes(s.num_cells + s.native_cells()));
      if (s.cpu0.load() == nullptr) return;  // shared: one copy, already written
      for (uint32_t copy = 0; copy < store.copies(); ++copy) {
        store.AddToCopyForBenchmark(s.cell, f->cells_per_series(), copy, 1.0);
        if (s.native != nullptr) {
          store.AddToCopyForBenchmark(s.native_cell, s.native->cells(), copy, 1.0);
        }
      }
    });
    const double rss = static_cast<double>(ResidentBytes() - rss_before);
    std::string body;
    body.reserve(64 << 20);
    const double render_ms = MedianMillis([&] {
      body.clear();
      vitals::exporters::TextFormat::RenderFamily(*f, body);
    });
    state.counters["cpu_copies"] = store.copies();
    state.counters["rss_bytes_per_series"] = rss / series;
    state.counters["promoted_series"] =
        static_cast<double>(store.promoted_series() - series_before);
    // Cell memory: one shared copy per series, and the promoted ones' per-CPU cells.
    state.counters["cell_MB"] =
        (shared_bytes + static_cast<double>(store.promoted_bytes() - promoted_before)) / 1e6;
    state.counters["rss_MB"] = rss / 1e6;
    state.counters["render_ms"] = render_ms;
  }
}

void PrometheusCpp(benchmark::State& state, int series) {
  for (auto _ : state) {
    const size_t rss_before = ResidentBytes();
    auto registry = std::make_shared<prometheus::Registry>();
    auto& family = prometheus::BuildHistogram()
                       .Name("bench_classic_seconds")
                       .Help("Bench.")
                       .Register(*registry);
    for (int i = 0; i < series; ++i) {
      family.Add({{"i", std::to_string(i)}}, prometheus::Histogram::BucketBoundaries(kBuckets))
          .Observe(0.01);
    }
    const double rss = static_cast<double>(ResidentBytes() - rss_before);
    prometheus::TextSerializer serializer;
    const double render_ms =
        MedianMillis([&] { benchmark::DoNotOptimize(serializer.Serialize(registry->Collect())); });
    state.counters["rss_bytes_per_series"] = rss / series;
    state.counters["rss_MB"] = rss / 1e6;
    state.counters["render_ms"] = render_ms;
  }
}

void BM_Classic1k_Vitals(benchmark::State& s) { Vitals(s, 1000, false); }
void BM_Classic10k_Vitals(benchmark::State& s) { Vitals(s, 10000, false); }
void BM_Native1k_Vitals(benchmark::State& s) { Vitals(s, 1000, true); }
void BM_Classic1k_PrometheusCpp(benchmark::State& s) { PrometheusCpp(s, 1000); }
void BM_Classic10k_PrometheusCpp(benchmark::State& s) { PrometheusCpp(s, 10000); }
BENCHMARK(BM_Classic1k_Vitals)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Classic10k_Vitals)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Native1k_Vitals)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Classic1k_PrometheusCpp)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Classic10k_PrometheusCpp)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

void BenchSetup() {
  if (const char* cpus = std::getenv("VITALS_BENCH_CPUS"); cpus != nullptr && *cpus != 0) {
    if (!vitals::internal::EmulateCpusForBenchmark(static_cast<uint32_t>(std::atoi(cpus)))) {
      std::fprintf(stderr, "VITALS_BENCH_CPUS=%s: cannot emulate that many CPUs\n", cpus);
      std::exit(2);
    }
    benchmark::AddCustomContext("emulated CPUs", cpus);
  }
  vitals::Options o;
  o.read_environment = false;
  o.process_metrics = false;
  o.series_limit = 100000;  // 10,000 series in one family
  if (const char* mib = std::getenv("VITALS_BENCH_PER_CPU_MIB"); mib != nullptr && *mib != 0) {
    o.per_cpu_memory_mib = std::atoi(mib);
    benchmark::AddCustomContext("per_cpu_memory_mib", mib);
  }
  g_agent = new vitals::Agent(o);
  // The emulation took: the store keeps a copy per emulated CPU (and its one stripe).
  const vitals::internal::CellStore& store = vitals::internal::CellStore::Get();
  if (const char* cpus = std::getenv("VITALS_BENCH_CPUS");
      cpus != nullptr && *cpus != 0 && store.rseq_active() &&
      store.copies() != static_cast<uint32_t>(std::atoi(cpus)) + 1) {
    std::fprintf(stderr, "the store keeps %u copies, not %s + 1\n", store.copies(), cpus);
    std::exit(3);
  }
}
