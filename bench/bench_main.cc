// The one main() of the Google Benchmark programs in bench/. Each program defines BenchSetup(),
// which builds what its benchmarks share (an agent, families, a baseline), before any runs.

#include <benchmark/benchmark.h>

void BenchSetup();

int main(int argc, char** argv) {
  BenchSetup();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
