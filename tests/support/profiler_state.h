// tests/support/profiler_state.h: whether a CPU profile is running in this process right now.
//
// gperftools arms ITIMER_PROF while it profiles and disarms it when it stops, so the timer tells
// without asking the agent (asking with another profile request would start one when none runs).

#ifndef VITALS_TESTS_SUPPORT_PROFILER_STATE_H_
#define VITALS_TESTS_SUPPORT_PROFILER_STATE_H_

#include <sys/time.h>

namespace vitals_test {

inline bool CpuProfileRunning() {
  itimerval t{};
  if (getitimer(ITIMER_PROF, &t) != 0) return false;
  return t.it_interval.tv_sec != 0 || t.it_interval.tv_usec != 0;
}

}  // namespace vitals_test

#endif  // VITALS_TESTS_SUPPORT_PROFILER_STATE_H_
