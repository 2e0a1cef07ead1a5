// agent/process/process_sampler.h: samples /proc and the allocator into the process and heap
// metrics.
//
// One background thread wakes every `sample_interval` and sets gauges (and the CPU counter) to
// what it read; nothing here is on a recording hot path. A source that fails keeps its last
// value served, counts in `vitals_sampler_errors_total{source}` and logs at most once a minute.
// `Stop()` wakes the thread through a condition variable, so it returns at once whatever the
// interval.

#ifndef VITALS_AGENT_PROCESS_PROCESS_SAMPLER_H_
#define VITALS_AGENT_PROCESS_PROCESS_SAMPLER_H_

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "agent/base/log_throttle.h"
#include "agent/base/mutex.h"
#include "agent/base/periodic_thread.h"
#include "agent/base/procfs.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/process/heap_trend.h"
#include "vitals/clock.h"
#include "vitals/options.h"
#include "vitals/process.h"

namespace vitals {
namespace internal {

class ProcessSampler {
 public:
  // What the sampler reads. Defaults come from the options and sysconf().
  struct Sources {
    std::string proc_root = "/proc";
    std::string pid = "self";
    std::shared_ptr<AllocatorReader> allocator;  // null: no heap figures
    const Clock* clock = nullptr;                // never null
    int64_t ticks_per_second = 100;              // sysconf(_SC_CLK_TCK)
    int64_t page_size = 4096;                    // sysconf(_SC_PAGESIZE)
  };
  static Sources DefaultSources(const Options& options, const Clock* clock);

  // Creates the metric families in `registry`. `log` may not be null.
  static absl::StatusOr<std::unique_ptr<ProcessSampler>> Create(Registry& registry,
                                                                const Options& options,
                                                                Sources sources,
                                                                RateLimitedLog* log);
  ~ProcessSampler();

  // Takes the first sample, then starts the thread. FailedPrecondition when running.
  absl::Status Start();
  // Stops the thread (promptly, whatever the interval). Idempotent.
  void Stop();

  // Reads every source once and updates the metrics. Returns the first failure (every failure
  // is counted and the other sources are still read). Safe from any thread.
  absl::Status SampleOnce();

 private:
  enum Source { kProcStat, kProcLimits, kProcFd, kBootTime, kHeap, kNumSources };
  static constexpr std::array<absl::string_view, kNumSources> kSourceNames = {
      "proc_stat", "proc_limits", "proc_fd", "proc_boot_time", "heap"};

  ProcessSampler(const Options& options, Sources sources, RateLimitedLog* log);
  absl::Status CreateFamilies(Registry& registry);
  void Failed(Source source, const absl::Status& status, absl::Status& first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_);
  // The parsed contents of a /proc file, or nothing (the failure counted and logged).
  template <typename T>
  std::optional<T> Parsed(Source source, const absl::StatusOr<std::string>& text,
                          absl::StatusOr<T> (*parse)(absl::string_view), absl::Status& first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_);
  void SampleHeap(int64_t now, absl::Status& first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_);
  void LogMemory(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sample_mu_);

  const Sources sources_;
  const Procfs procfs_;
  const absl::Duration interval_;
  const int64_t memory_log_nanos_;
  RateLimitedLog* const log_;
  LogThrottle failure_log_;  // one line per source per minute

  Family* cpu_ = nullptr;
  Family* rss_ = nullptr;
  Family* vsize_ = nullptr;
  Family* vsize_max_ = nullptr;
  Family* open_fds_ = nullptr;
  Family* max_fds_ = nullptr;
  Family* start_time_ = nullptr;
  Family* threads_ = nullptr;
  Family* heap_ = nullptr;
  Family* heap_reserved_ = nullptr;
  Family* heap_free_ = nullptr;
  Family* heap_unmapped_ = nullptr;
  Family* heap_thread_cache_ = nullptr;
  Family* heap_growth_ = nullptr;
  Family* duration_ = nullptr;
  std::array<Series*, kNumSources> errors_{};

  internal::Mutex sample_mu_;
  HeapTrend trend_ ABSL_GUARDED_BY(sample_mu_);
  std::optional<int64_t> boot_time_ ABSL_GUARDED_BY(sample_mu_);
  std::array<double, kNumSources> error_counts_ ABSL_GUARDED_BY(sample_mu_) = {};
  std::optional<int64_t> last_memory_log_ ABSL_GUARDED_BY(sample_mu_);
  double last_rss_ ABSL_GUARDED_BY(sample_mu_) = -1;
  std::optional<HeapStats> last_heap_ ABSL_GUARDED_BY(sample_mu_);

  PeriodicThread thread_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROCESS_PROCESS_SAMPLER_H_
