// What a running CPU profile costs the code being profiled: the demo's CPU-heavy route (the
// exact function GET /cpu runs, examples/cpu_work.h) timed without and with a CPU profile in
// progress at gperftools' default 100 Hz, in one run.
//
//   build/bench/profile_overhead_bench --benchmark_repetitions=5
//
// profiling:1 starts Agent::CpuProfile on another thread before the timed loop and cancels it
// after, so every timed iteration runs under the profiler's SIGPROF ticks and stack walks.

#include <benchmark/benchmark.h>

#include <chrono>
#include <thread>

#include "agent/root/agent_access.h"
#include "examples/cpu_work.h"
#include "tests/support/fixtures.h"
#include "tests/support/profiler_state.h"
#include "vitals/agent.h"

namespace {

vitals::Agent* g_agent;

void BM_CpuRoute(benchmark::State& state) {
  const bool profiling = state.range(0) != 0;
  std::thread profile;
  absl::Status result;
  if (profiling) {
    profile = std::thread([&] { result = g_agent->CpuProfile(absl::Seconds(600)).status(); });
    vitals_test::WaitUntil([] { return vitals_test::CpuProfileRunning(); });
  }
  for (auto _ : state) benchmark::DoNotOptimize(demo::CpuHeavyWork(demo::kCpuRouteRounds));
  if (profiling) {
    vitals::internal::AgentAccess::Impl(*g_agent).profiler().Cancel();
    profile.join();
    vitals::internal::AgentAccess::Impl(*g_agent).profiler().Resume();
    // Cancelled is the expected end; anything else means the profiler never ran.
    if (!absl::IsCancelled(result)) state.SkipWithError(std::string(result.message()).c_str());
  }
}
BENCHMARK(BM_CpuRoute)->ArgName("profiling")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

void BenchSetup() {
  vitals::Options options;
  options.read_environment = false;
  options.profile_max_duration = absl::Seconds(600);
  g_agent = new vitals::Agent(options);
}
