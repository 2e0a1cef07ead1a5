// agent/core/callback_runner.h: the functions that compute values at scrape time: the public
// callback gauges and counters (vitals/callback.h) and the agent's own (a circuit breaker's
// window rates, the requests in flight).
//
// They run on a thread of their own, one after another, once per round. A walk of the families
// (every scrape, push and live sample: Registry::ForEachFamily) asks for a round and waits for
// it at most `timeout`: concurrent walks share one round, a slow or stuck function delays no
// walk past the timeout, and a walk that finds a round already late does not wait at all. The
// walk then serves the values the functions set last. A function that overruns is counted
// once per overrun in `vitals_callback_failures_total{metric,reason="timeout"}` and logged; one
// that throws or returns an error, with reason `exception` or `error`. The thread starts with
// the first function added.
//
// Thread-safety: every method may be called from any thread, and from inside a function (a
// walk from a function does not wait for its own round; a function that removes itself does
// not wait for itself). Remove() waits while the function it removes runs, so its state may go
// right after; the destructor waits for a running function to return.

#ifndef VITALS_AGENT_CORE_CALLBACK_RUNNER_H_
#define VITALS_AGENT_CORE_CALLBACK_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"

namespace vitals {
namespace internal {

class Family;

class CallbackRunner {
 public:
  // A function run once per round; a non-OK status is reported as an error.
  using Fn = std::function<absl::Status()>;

  CallbackRunner() = default;
  ~CallbackRunner();
  CallbackRunner(const CallbackRunner&) = delete;
  CallbackRunner& operator=(const CallbackRunner&) = delete;

  // How long a walk waits for a round, where failures are logged (may be null) and counted
  // (`failures`: a counter family with labels {metric, reason}; may be null). Called before
  // the first Add.
  void Configure(absl::Duration timeout, RateLimitedLog* log, Family* failures);

  // Adds `fn`, reported as `metric` (its family's name); returns its id (never 0).
  uint64_t Add(std::string metric, Fn fn) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes it; waits while it runs (unless called from it). Unknown ids are ignored.
  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Asks for a round and waits for it, at most the timeout (see above). Returns false when it
  // did not complete in time.
  bool RunRound() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    uint64_t id;
    std::string metric;
    Fn fn;
    uint64_t reported_round = 0;  // the round whose overrun was reported (guarded by mu_)
  };

  void Loop();
  // Runs one function, containing what it throws; returns the failure reason or empty.
  static const char* Call(const Entry& entry, std::string& error);
  void Report(const Entry& entry, const char* reason, absl::string_view detail);

  absl::Duration timeout_ = absl::Milliseconds(500);
  RateLimitedLog* log_ = nullptr;
  Family* failures_ = nullptr;

  Mutex mu_;
  CondVar cv_;                             // rounds asked for and done (the thread and the walks)
  CondVar removed_cv_;                     // a function done (Remove waits for the one it removes)
  int removers_ ABSL_GUARDED_BY(mu_) = 0;  // Removes waiting on removed_cv_
  std::vector<std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);  // in id order
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t requested_ ABSL_GUARDED_BY(mu_) = 0;  // rounds asked for
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;  // rounds done
  uint64_t running_ ABSL_GUARDED_BY(mu_) = 0;    // the id of the function running, or 0
  absl::Time round_start_ ABSL_GUARDED_BY(mu_);  // when the round in progress began
  bool in_round_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started by the first Add (under mu_)
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_CALLBACK_RUNNER_H_
