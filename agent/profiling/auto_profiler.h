// agent/profiling/auto_profiler.h: CPU profiles the agent captures by itself when slow
// requests burst (Options::auto_profile), kept for an operator to fetch later.
//
// Trigger: at least `slow_requests` slow requests (the slow-request threshold) end within
// `window` (10 s). Each slow request writes its time and route into a ring of that many slots
// (lock-free: one fetch-add and two stores, on the slow path only; a fast request never reaches
// this); the burst is there when the slot written `slow_requests - 1` requests earlier is
// inside the window. At most one capture per `cooldown`, counted from the trigger, and never
// two at once: while one is pending or running, and until the cooldown ends, a slow request
// only reads one atomic.
//
// Capture: on this object's own thread (started only when automatic profiles are on), through
// the same process-wide profiler as on-demand profiles, so the two never overlap: an on-demand
// request during a capture gets 409; a burst during an on-demand profile is skipped (logged)
// and the trigger re-armed. Stop() ends a capture in progress at once.
//
// Keeping: the last `keep` profiles, and never more than `max_bytes` of them in all; the oldest
// go first. One log line per capture says where to fetch it; `vitals_auto_profiles_total
// {trigger}` counts the captures.
//
// Thread-safety: SlowRequest() from any thread, lock-free; the rest from any thread.

#ifndef VITALS_AGENT_PROFILING_AUTO_PROFILER_H_
#define VITALS_AGENT_PROFILING_AUTO_PROFILER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/core/slow_request_listener.h"
#include "vitals/clock.h"
#include "vitals/profiling.h"

namespace vitals {
namespace internal {

// The most bytes of automatic profiles kept in memory at once.
inline constexpr size_t kMaxAutoProfileBytes = size_t{32} << 20;

class AutoProfiler : public SlowRequestListener {
 public:
  struct Config {
    int slow_requests = 5;  // 1..1000
    absl::Duration window = absl::Seconds(10);
    absl::Duration duration = absl::Seconds(10);
    absl::Duration cooldown = absl::Minutes(10);
    int keep = 5;
    size_t max_bytes = kMaxAutoProfileBytes;
  };
  // Takes a CPU profile over `duration` (a gzipped profile.proto), ending early once
  // `cancelled()` is true. The agent passes the profiler; tests pass their own.
  using Capture = std::function<absl::StatusOr<std::string>(
      absl::Duration duration, const std::function<bool()>& cancelled)>;

  // Creates vitals_auto_profiles_total in `registry`. `clock` is the one whose readings
  // SlowRequest() gets; `clock`, `log` and `registry` must outlive this.
  static absl::StatusOr<std::unique_ptr<AutoProfiler>> Create(Registry& registry, Config config,
                                                              Capture capture, const Clock* clock,
                                                              RateLimitedLog* log);
  ~AutoProfiler() override;

  // Starts the capture thread. `where` is the base URL the log line names (e.g.
  // "http://127.0.0.1:9464"); empty when nothing serves the profiles.
  void Start(std::string where);
  // Ends a capture in progress and the thread; triggers are ignored until Start().
  void Stop();

  void SlowRequest(const RouteLabels& route, int64_t now_nanos) override;

  // The profiles kept, newest first.
  std::vector<AutoProfileInfo> List() const;
  // One of them (gzipped profile.proto); NotFound when it was never taken or is gone.
  absl::StatusOr<std::string> Get(int64_t id) const;

  // Bursts that won the trigger (counted by the slow request that completed the burst, before
  // it returns), and captures begun: for tests.
  int64_t triggers() const { return triggers_.load(std::memory_order_acquire); }
  int64_t captures_started() const { return captures_started_.load(std::memory_order_acquire); }
  // The first clock reading at which a burst may trigger again (INT64_MAX: not armed).
  int64_t armed_at() const { return quiet_until_.load(std::memory_order_acquire); }

 private:
  struct Slot {
    std::atomic<int64_t> nanos{INT64_MIN};
    std::atomic<const RouteLabels*> route{nullptr};
  };
  struct Trigger {
    int64_t nanos = 0;                       // the agent clock when the burst completed
    int64_t first_nanos = 0;                 // the first slow request of the burst
    std::vector<const RouteLabels*> routes;  // the burst's slow requests
  };
  struct Kept {
    AutoProfileInfo info;
    std::string data;
  };

  AutoProfiler(Config config, Capture capture, const Clock* clock, RateLimitedLog* log,
               Series* captured);
  void Run();
  void CaptureOne(const Trigger& trigger);

  const Config config_;
  const Capture capture_;
  const Clock* const clock_;
  RateLimitedLog* const log_;
  Series* const captured_;  // vitals_auto_profiles_total{trigger="slow_requests"}

  // The trigger ring and its gate. quiet_until_ is the first clock reading at which a slow
  // request may trigger again: INT64_MAX while a trigger is pending or being captured, or the
  // agent is stopped.
  std::unique_ptr<Slot[]> ring_;
  std::atomic<uint64_t> next_slot_{0};
  std::atomic<int64_t> quiet_until_{INT64_MAX};

  Mutex mu_;
  CondVar wake_;  // the capture thread waits for a trigger or Stop
  std::optional<Trigger> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string where_ ABSL_GUARDED_BY(mu_);
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cancel_{false};  // ends a capture in progress
  std::atomic<int64_t> triggers_{0};
  std::atomic<int64_t> captures_started_{0};

  mutable Mutex kept_mu_;
  std::deque<Kept> kept_ ABSL_GUARDED_BY(kept_mu_);  // oldest first
  size_t kept_bytes_ ABSL_GUARDED_BY(kept_mu_) = 0;
  int64_t next_id_ ABSL_GUARDED_BY(kept_mu_) = 1;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_AUTO_PROFILER_H_
