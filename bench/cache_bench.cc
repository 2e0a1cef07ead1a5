// vitals::LruCache against the usual hand-written LRU (one std::mutex, std::unordered_map and
// std::list), and a cache hit count on a CacheMetrics handle against a prometheus-cpp counter,
// side by side in one run.
//
//   build/bench/cache_bench --benchmark_min_time=0.5
//
// The LRU benchmarks are the hit path: 10,000 entries of int -> int in a cache of 10,000, keys
// drawn at random from them, so every Get finds its entry and moves it to the front. The vitals
// cache is instrumented (each hit also counts in cache_gets_total); the baseline counts nothing.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "vitals/agent.h"
#include "vitals/lru_cache.h"

namespace {

constexpr int kEntries = 10000;

// The baseline: what most services write by hand.
class MutexLru {
 public:
  explicit MutexLru(size_t capacity) : capacity_(capacity) {}

  std::optional<int> Get(int key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void Put(int key, int value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = value;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, value);
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<int, int>> order_;
  std::unordered_map<int, std::list<std::pair<int, int>>::iterator> index_;
};

vitals::Agent* g_agent;
vitals::LruCache<int, int>* g_cache;
MutexLru* g_baseline;
vitals::CacheMetrics g_metrics;
std::shared_ptr<prometheus::Registry> g_registry;
prometheus::Counter* g_prom_hits;

}  // namespace

void BenchSetup() {
  vitals::Options o;
  o.read_environment = false;
  g_agent = new vitals::Agent(o);
  vitals::LruCache<int, int>::Options co;
  co.max_entries = kEntries * 2;  // room for hash imbalance between shards: every key stays
  g_cache = new vitals::LruCache<int, int>(*g_agent, "bench", co);
  g_baseline = new MutexLru(kEntries);
  for (int k = 0; k < kEntries; ++k) {
    g_cache->Put(k, k);
    g_baseline->Put(k, k);
  }
  g_metrics = g_agent->Cache("bench_counts");
  g_registry = std::make_shared<prometheus::Registry>();
  g_prom_hits = &prometheus::BuildCounter()
                     .Name("cache_gets_total")
                     .Help("Bench.")
                     .Register(*g_registry)
                     .Add({{"cache", "bench"}, {"result", "hit"}});
}

namespace {

// A cheap per-thread key stream over [0, kEntries).
struct Keys {
  uint64_t x;
  explicit Keys(int seed) : x(0x9E3779B97F4A7C15ull * (seed + 1)) {}
  int Next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<int>(x % kEntries);
  }
};

void BM_LruGetHit_Vitals(benchmark::State& state) {
  Keys keys(state.thread_index());
  int64_t found = 0;
  for (auto _ : state) found += g_cache->Get(keys.Next()).has_value();
  if (found != static_cast<int64_t>(state.iterations())) state.SkipWithError("a Get missed");
}
BENCHMARK(BM_LruGetHit_Vitals)->Threads(1)->Threads(2)->UseRealTime();

void BM_LruGetHit_MutexBaseline(benchmark::State& state) {
  Keys keys(state.thread_index());
  int64_t found = 0;
  for (auto _ : state) found += g_baseline->Get(keys.Next()).has_value();
  if (found != static_cast<int64_t>(state.iterations())) state.SkipWithError("a Get missed");
}
BENCHMARK(BM_LruGetHit_MutexBaseline)->Threads(1)->Threads(2)->UseRealTime();

void BM_CountHit_Vitals(benchmark::State& state) {
  for (auto _ : state) g_metrics.Hit();
}
BENCHMARK(BM_CountHit_Vitals)->Threads(1)->Threads(2)->UseRealTime();

void BM_CountHit_PrometheusCpp(benchmark::State& state) {
  for (auto _ : state) g_prom_hits->Increment();
}
BENCHMARK(BM_CountHit_PrometheusCpp)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
