// The cost of one process sample, and of its parts, on the allocator this program runs on.
//
//   build/bench/process_bench            # glibc malloc
//   build/bench/process_bench_tcmalloc   # the same program linked with tcmalloc
//
// glibc's mallinfo2() locks and walks every malloc arena, and glibc makes up to 8 arenas per
// core as threads allocate, so the heap read is measured before and after 16 threads have
// allocated. tcmalloc answers from counters.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "agent/base/procfs.h"
#include "vitals/agent.h"
#include "vitals/process.h"

namespace {

// Makes threads allocate so that glibc gives them their own arenas (a no-op for tcmalloc's
// figures, which do not depend on it).
void SpreadArenas(int threads) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([] {
      std::vector<void*> blocks;
      for (int i = 0; i < 1000; ++i) blocks.push_back(std::malloc(64 + i % 512));
      for (void* b : blocks) std::free(b);
    });
  }
  for (auto& t : pool) t.join();
}

void BM_HeapRead(benchmark::State& state) {
  static bool spread = false;
  if (state.range(0) > 0 && !spread) {
    SpreadArenas(static_cast<int>(state.range(0)));
    spread = true;
  }
  auto reader = vitals::DetectAllocatorReader();
  for (auto _ : state) benchmark::DoNotOptimize(reader->Read());
  state.SetLabel(std::string(reader->name()));
}
// Arg: threads that allocated first (0 = only the main thread's arena).
BENCHMARK(BM_HeapRead)->Arg(0)->Arg(16);

void BM_FullSample(benchmark::State& state) {
  vitals::Options options;
  options.read_environment = false;
  vitals::Agent agent(options);
  for (auto _ : state) benchmark::DoNotOptimize(agent.SampleProcessNow());
  state.SetLabel(std::string(vitals::DetectAllocatorReader()->name()));
}
BENCHMARK(BM_FullSample);

// A fragmented heap: 200,000 small free chunks between live ones. mallinfo2() visits every free
// chunk in every bin, so this is where glibc gets expensive.
void BM_HeapReadFragmented(benchmark::State& state) {
  static std::vector<void*>* live = [] {
    auto* v = new std::vector<void*>();
    std::vector<void*> all;
    for (int i = 0; i < 400000; ++i) all.push_back(std::malloc(48 + (i % 8) * 16));
    for (size_t i = 0; i < all.size(); ++i) {
      if (i % 2 == 0) {
        std::free(all[i]);
      } else {
        v->push_back(all[i]);
      }
    }
    return v;
  }();
  benchmark::DoNotOptimize(live);
  auto reader = vitals::DetectAllocatorReader();
  for (auto _ : state) benchmark::DoNotOptimize(reader->Read());
  state.SetLabel(std::string(reader->name()));
}
BENCHMARK(BM_HeapReadFragmented);
BENCHMARK(BM_FullSample)->Name("BM_FullSample/fragmented_heap");

void BM_ProcfsRead(benchmark::State& state) {
  vitals::internal::Procfs procfs("/proc", "self");
  for (auto _ : state) {
    benchmark::DoNotOptimize(procfs.ReadProcessFile("stat"));
    benchmark::DoNotOptimize(procfs.ReadProcessFile("limits"));
    benchmark::DoNotOptimize(procfs.CountOpenFds());
  }
}
BENCHMARK(BM_ProcfsRead);

}  // namespace

void BenchSetup() {}
