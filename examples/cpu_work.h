// The demo's CPU-heavy work (GET /cpu), shared with bench/profile_overhead_bench.cc so the cost
// of profiling is measured on the very code the demo's profiles show.

#ifndef VITALS_EXAMPLES_CPU_WORK_H_
#define VITALS_EXAMPLES_CPU_WORK_H_

#include <cmath>

namespace demo {

// What GET /cpu does per request: about 15-20 ms here.
inline constexpr int kCpuRouteRounds = 1000;

// A fixed amount of floating-point work: `rounds` x 5,000 square roots and divisions (about
// 15 us per round here). Never inlined, so profiles name it.
__attribute__((noinline)) inline double CpuHeavyWork(int rounds) {
  double x = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 1; i < 5000; ++i) x += std::sqrt(static_cast<double>(i + r)) / i;
  }
  return x;
}

}  // namespace demo

#endif  // VITALS_EXAMPLES_CPU_WORK_H_
