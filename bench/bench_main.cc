// The one main() of the Google Benchmark programs in bench/. Each program defines BenchSetup(),
// which builds what its benchmarks share (an agent, families, a baseline), before any runs.
// Every run states the machine's clocksource and the clock vitals times requests with, since
// both move the request-path figures (BENCHMARKS.md).

#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "vitals/clock.h"

void BenchSetup();

int main(int argc, char** argv) {
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string clocksource = "unknown";
  source >> clocksource;
  benchmark::AddCustomContext("clocksource", clocksource);
  benchmark::AddCustomContext("vitals clock", std::string(vitals::Clock::Default().name()));
  BenchSetup();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
