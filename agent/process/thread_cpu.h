// agent/process/thread_cpu.h: the process's threads and which of them use the CPU, for the live
// page's Threads section: the thread count, and the busiest threads by CPU over the time since
// the previous look (each thread's user + system time from /proc/<pid>/task/<tid>/stat).
//
// A look reads one stat file per thread (at most `max_threads`, 4,096 by default). Looks closer
// together than `min_window` (1 s) answer the previous result, so several pages polling at once
// cost one read per second; the window of each answer is stated in it.
//
// Thread-safety: Look() may be called from any thread; it takes an internal mutex (never on a
// hot path: the live page's request). Ownership: borrows the clock.

#ifndef VITALS_AGENT_PROCESS_THREAD_CPU_H_
#define VITALS_AGENT_PROCESS_THREAD_CPU_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"
#include "vitals/clock.h"

namespace vitals {
namespace internal {

class ThreadCpu {
 public:
  struct Thread {
    pid_t tid = 0;
    std::string name;
    double cpu_seconds = 0;  // since the thread started
    double cpu_share = 0;    // of one CPU over the window: 1.0 = a whole CPU
  };
  struct Look {
    int count = 0;                // threads in the process (all; only max_threads are read)
    double window_seconds = 0;    // what cpu_share is over; 0 on the first look (no shares)
    std::vector<Thread> busiest;  // most cpu_share first, then most cpu_seconds
  };

  struct Config {
    std::string proc_root = "/proc";
    std::string pid = "self";
    size_t max_threads = 4096;
    size_t top = 8;
    absl::Duration min_window = absl::Seconds(1);
  };

  ThreadCpu(Config config, const Clock* clock) : config_(std::move(config)), clock_(clock) {}

  // The threads now (or as of the previous look, when it was less than min_window ago).
  Look Take();

 private:
  const Config config_;
  const Clock* clock_;
  Mutex mu_;
  int64_t last_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<pid_t, uint64_t> last_ticks_ ABSL_GUARDED_BY(mu_);
  Look last_ ABSL_GUARDED_BY(mu_);
  bool looked_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROCESS_THREAD_CPU_H_
