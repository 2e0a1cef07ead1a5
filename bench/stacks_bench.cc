// What /debug/pprof/goroutine and /debug/pprof/mutex cost.
//
// BM_ThreadDump/N: the goroutine endpoint's work with N extra threads, each blocked in a
// condition-variable wait three calls deep (the common shape of an idle pool): list the
// threads, read each one's saved registers, walk its stack with libdw, symbolize and format
// (debug=2 text; the profile.proto form costs the same walk plus encoding). Wall time per dump.
//
// BM_ContendedMutex/<mode>: two threads taking one absl::Mutex in turn, holding it for a few
// dozen instructions, so many releases are contended (the only ones the hook sees):
//   never   the contention hook has never been registered in this process (a host that never
//           turned the profile on)
//   off     registered once, then set to 0
//   1, 100  recording every contention, one in a hundred
// `kept` counts the contentions the profile recorded during the run. Contended throughput is
// chaotic (a slower release changes who waits next), so the hook's own cost is measured
// directly too:
//
// BM_MutexHook/<fraction>: what the hook costs one contended release: 0 one atomic load, 1 a
// backtrace and a table update, 100 the sampling draw (and a backtrace one time in 100).
//
//   build/bench/stacks_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/profiling/mutex_profile.h"
#include "agent/profiling/thread_dump.h"

namespace {

std::mutex idle_mu;
std::condition_variable idle_cv;
bool idle_stop = false;

__attribute__((noinline)) void WaitForWork() {
  std::unique_lock<std::mutex> lock(idle_mu);
  idle_cv.wait(lock, [] { return idle_stop; });
}
__attribute__((noinline)) void PoolLoop() { WaitForWork(); }
__attribute__((noinline)) void PoolThread() { PoolLoop(); }

void BM_ThreadDump(benchmark::State& state) {
  idle_stop = false;
  std::vector<std::thread> pool;
  for (int i = 0; i < state.range(0); ++i) pool.emplace_back(PoolThread);
  size_t taken = 0, threads = 0;
  for (auto _ : state) {
    auto dump = vitals::internal::TakeThreadStacks(vitals::internal::ThreadStackOptions{},
                                                   [] { return false; });
    if (!dump.ok()) {
      state.SkipWithError(std::string(dump.status().message()).c_str());
      break;
    }
    threads = dump->size();
    taken = 0;
    for (const auto& t : *dump) taken += t.sample == vitals::internal::ThreadStack::Sample::kTaken;
    auto symbols = vitals::internal::ElfSymbols::ForThisProcess();
    auto lines = vitals::internal::LineInfo::ForThisProcess();
    benchmark::DoNotOptimize(vitals::internal::ThreadDumpText(*dump, 2, **symbols, lines.get()));
  }
  {
    std::lock_guard<std::mutex> lock(idle_mu);
    idle_stop = true;
  }
  idle_cv.notify_all();
  for (std::thread& t : pool) t.join();
  state.counters["threads"] = static_cast<double>(threads);
  state.counters["taken"] = static_cast<double>(taken);
}
BENCHMARK(BM_ThreadDump)->Arg(50)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();

absl::Mutex contended;
int64_t guarded = 0;

void BM_ContendedMutex(benchmark::State& state, int fraction) {
  if (state.thread_index() == 0) {
    if (fraction == 0) vitals::internal::MutexProfile::SetFraction(1);  // registers the hook
    if (fraction >= 0) vitals::internal::MutexProfile::SetFraction(fraction);
  }
  const auto before = vitals::internal::MutexProfile::Take();
  for (auto _ : state) {
    absl::MutexLock lock(&contended);
    for (int i = 0; i < 20; ++i) benchmark::DoNotOptimize(++guarded);
  }
  if (state.thread_index() == 0 && fraction > 0) {
    int64_t kept = 0;
    for (const auto& e :
         vitals::internal::MutexProfile::Delta(before, vitals::internal::MutexProfile::Take())
             .entries) {
      kept += e.contentions;
    }
    state.counters["kept"] = static_cast<double>(kept);
  }
}
// Registered in this order and run in it: "never" must run before anything registers the hook.
BENCHMARK_CAPTURE(BM_ContendedMutex, never, -1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_ContendedMutex, off, 0)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_ContendedMutex, every_1, 1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_ContendedMutex, one_in_100, 100)->Threads(2)->UseRealTime();

__attribute__((noinline)) void ReleaseSite(int64_t cycles) {
  vitals::internal::MutexProfile::Record(cycles);
  benchmark::ClobberMemory();
}

void BM_MutexHook(benchmark::State& state) {
  const int previous =
      vitals::internal::MutexProfile::SetFraction(static_cast<int>(state.range(0)));
  for (auto _ : state) ReleaseSite(1000);
  vitals::internal::MutexProfile::SetFraction(previous);
}
BENCHMARK(BM_MutexHook)->Arg(0)->Arg(1)->Arg(100);

}  // namespace

void BenchSetup() {}  // each benchmark builds what it needs
