// vitals/circuit_breaker.h: a circuit breaker that stops calling a failing dependency, with
// the metrics resilience4j's Micrometer binding writes, so its dashboards work unchanged.
//
//   vitals::CircuitBreaker inventory("inventory", options, &agent);   // agent optional
//   absl::StatusOr<httplib::Result> res = inventory.Execute(
//       [&] { return client.Get("/stock/42"); },                      // the call
//       [](const httplib::Result& r) { return r && r->status < 500; });  // did it succeed?
//   if (!res.ok()) ... refused: fail fast, the dependency is given time to recover ...
//
// Execute times the call with the breaker's clock and records its outcome itself (as
// resilience4j's decorators do); TryAcquire and OnSuccess/OnFailure/OnIgnored are the same
// steps by hand, for calls that do not fit in a function (an asynchronous one, say).
//
// States, as resilience4j's: CLOSED lets every call through and keeps the outcomes of the last
// `sliding_window_size` calls; it opens when at least `minimum_number_of_calls` are in the
// window and the failure rate or the slow-call rate reaches its threshold, or after
// `consecutive_failures` failures in a row (0: off). OPEN refuses every call for
// `wait_duration_in_open_state`, then the next call attempt moves it to HALF_OPEN, which lets
// `permitted_calls_in_half_open_state` probe calls through: when they have all ended it closes
// if their failure and slow-call rates stay under the thresholds, else opens again (and, with
// `max_wait_duration_in_half_open_state`, when they have not all ended by then). A call
// that takes `slow_call_duration_threshold` or longer is slow; with `slow_calls_are_failures`
// it also counts as a failure. Outcomes of calls permitted before the last state change are
// not counted (they describe a state that is gone). Each state change logs one line.
//
// Metrics, when built with an agent (`name` is the `name` label; resilience4j's names):
//   resilience4j_circuitbreaker_state{name,state}      1 for the current state, 0 for the
//       others (closed, open, half_open, and forced_open, disabled, metrics_only, always 0)
//   resilience4j_circuitbreaker_calls_seconds{name,kind}   histogram of call durations by
//       kind: successful, failed, ignored
//   resilience4j_circuitbreaker_not_permitted_calls_total{name,kind="not_permitted"}
//   resilience4j_circuitbreaker_failure_rate{name}, resilience4j_circuitbreaker_slow_call_rate
//       {name}: percent of the window, -1 until minimum_number_of_calls are in it
//   resilience4j_circuitbreaker_buffered_calls{name,kind}, resilience4j_circuitbreaker_slow_calls
//       {name,kind}: calls in the window by kind (successful, failed)
// The gauges are computed when a scrape (or push) reads them, and set at each state change.
//
// Thread-safety: every method from any thread at once, without a lock: the state, the
// half-open permits and an epoch share one atomic word; the window is a ring of atomic
// outcome slots and one word of epoch-tagged totals. Cost: TryAcquire is one atomic load while
// closed (a compare-and-swap in half-open); an outcome is one fetch-add and one exchange on the
// breaker's own lines when it replaces an outcome of the same kind (the steady state), one
// compare-and-swap more when the window's counts change (one more again for a slow call, and
// with consecutive_failures), plus a histogram observe on per-CPU cells when bound to an
// agent: about 15 ns, 18 ns bound, on one thread (BENCHMARKS.md).
// Memory: 4 bytes per window slot. Works without an agent, and keeps working after the agent it
// was bound to is destroyed (a static breaker bound to an agent in main): its metrics then
// record nothing.

#ifndef VITALS_CIRCUIT_BREAKER_H_
#define VITALS_CIRCUIT_BREAKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vitals/clock.h"
#include "vitals/detail/export.h"
#include "vitals/log.h"
#include "vitals/metrics.h"

namespace vitals {

class Agent;

namespace internal {
class Registry;
}  // namespace internal

struct CircuitBreakerOptions {
  double failure_rate_threshold = 50;     // percent, (0, 100]
  double slow_call_rate_threshold = 100;  // percent, (0, 100]
  absl::Duration slow_call_duration_threshold = absl::Seconds(60);
  bool slow_calls_are_failures = false;
  int sliding_window_size = 100;      // calls, 1..65536
  int minimum_number_of_calls = 100;  // calls, 1..sliding_window_size
  int consecutive_failures = 0;       // open after this many failures in a row; 0: off
  absl::Duration wait_duration_in_open_state = absl::Seconds(60);
  int permitted_calls_in_half_open_state = 10;  // 1..65535
  // The longest the breaker stays half-open: past it, the next call attempt opens it again
  // (probes that never reported an outcome must not hold it half-open). Zero, resilience4j's
  // default: wait until every probe has reported.
  absl::Duration max_wait_duration_in_half_open_state = absl::ZeroDuration();
  // Times calls and the open state; null: Clock::Default() (or the agent's clock).
  const Clock* clock = nullptr;
  // Where state changes are logged; null: the agent's sink, or stderr without an agent.
  std::shared_ptr<LogSink> log_sink;
};

class VITALS_EXPORT CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

  // What TryAcquire gives: true when the call may go ahead. Pass it back with the outcome.
  class VITALS_EXPORT Permit {
   public:
    explicit operator bool() const { return granted_; }

   private:
    friend class CircuitBreaker;
    bool granted_ = false;
    uint32_t epoch_ = 0;
  };

  // What a finished call says about the dependency (what Execute's classifier returns).
  enum class Outcome { kSuccess, kFailure, kIgnored };

  // `options` are checked by Validate(); an invalid set is replaced by the defaults and
  // reported by status(). With `agent`, the metrics above are registered there; the breaker
  // may outlive the agent (its metrics then record nothing). Two breakers must not share a
  // name on one agent.
  explicit CircuitBreaker(std::string name, CircuitBreakerOptions options = {},
                          Agent* agent = nullptr);
  ~CircuitBreaker();
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  static absl::Status Validate(const CircuitBreakerOptions& options);
  // OK, or why the options given were replaced by the defaults, or why metrics are missing.
  const absl::Status& status() const { return status_; }

  // Runs `call` when the breaker permits it, timed with the breaker's clock (the agent's
  // monotonic clock unless CircuitBreakerOptions::clock says otherwise), and records the
  // outcome `classify(result)` gives: an Outcome, or a bool (true: a success). A call that
  // throws is recorded as a failure and the exception goes on to the caller. Returns the
  // call's result, or Unavailable naming the breaker when it refused the call (which then did
  // not run). Cost: TryAcquire, two clock reads and the outcome's cost.
  template <typename Call, typename Classify>
  absl::StatusOr<std::invoke_result_t<Call&>> Execute(Call&& call, Classify&& classify);

  // For a call that returns absl::Status or absl::StatusOr<T>: OK is a success, anything else
  // a failure. Returns what the call returned, or Unavailable when the breaker refused it.
  template <typename Call>
  std::invoke_result_t<Call&> Execute(Call&& call);

  // The steps Execute takes, for calls that do not fit in one function: a permit, then one of
  // the outcomes with the call's duration.
  Permit TryAcquire();
  void OnSuccess(const Permit& permit, absl::Duration duration);
  void OnFailure(const Permit& permit, absl::Duration duration);
  // A call whose outcome says nothing about the dependency (a client error, a cancellation):
  // timed under kind="ignored", not counted in the window; a half-open probe is given back.
  void OnIgnored(const Permit& permit, absl::Duration duration);

  State state() const;
  const std::string& name() const { return name_; }
  // Percent of the window's calls that failed / were slow; -1 until minimum_number_of_calls.
  double failure_rate() const;
  double slow_call_rate() const;
  uint64_t not_permitted_calls() const { return not_permitted_.load(std::memory_order_relaxed); }

  static absl::string_view StateName(State state);  // "closed", "open", "half_open"

 private:
  // Unavailable: "circuit breaker NAME is open|half_open: call not permitted".
  absl::Status NotPermitted() const;
  int64_t NowNanos() const { return clock_->NowNanos(); }
  void OnOutcome(const Permit& permit, Outcome outcome, int64_t start_nanos);
  // Runs `call` (permitted), timed, and records outcome_of(its result); a call that throws is
  // recorded as a failure and the exception goes on.
  template <typename Call, typename OutcomeOf>
  std::invoke_result_t<Call&> Guarded(const Permit& permit, Call& call, OutcomeOf outcome_of);

  struct Metrics;
  struct Window;
  enum OutcomeBit : uint32_t { kSuccess = 1, kFailure = 2, kSlow = 4 };

  void Record(const Permit& permit, uint32_t outcome, absl::Duration duration);
  void RecordHalfOpen(uint64_t word, uint32_t outcome);
  // Metrics, when bound: a call's duration by kind (0 successful, 1 failed, 2 ignored), a
  // refused call, and the state and window gauges.
  void ObserveCall(int kind, absl::Duration duration);
  void PublishNotPermitted();
  // Moves from the state word `from` to `to` in a new epoch; false when another thread
  // changed the state first.
  bool Transition(uint64_t from, State to, absl::string_view why);
  // The window gauges, and with `state` the state gauges (state changes only).
  void PublishGauges(bool state);
  // Everything but the metrics; the constructor (in agent/root/agent.cc, which may see the
  // agent) picks the clock and sink, then binds the metrics to the agent's registry. Both in
  // agent/upstream/circuit_breaker.cc.
  void Init(const Clock* clock, std::shared_ptr<LogSink> log);
  void BindMetrics(internal::Registry& registry);

  const std::string name_;
  CircuitBreakerOptions options_;
  absl::Status status_;
  const Clock* clock_;
  std::shared_ptr<LogSink> log_;
  int64_t wait_nanos_ = 0;
  int64_t half_open_max_nanos_ = 0;
  int64_t slow_nanos_ = 0;
  // state (2 bits) | half-open permits given (16 bits, from bit 2) | epoch (32 bits, from 32)
  std::atomic<uint64_t> word_{0};
  std::atomic<int64_t> open_until_{0};
  std::atomic<int64_t> half_open_until_{0};
  std::unique_ptr<Window> window_;
  std::atomic<uint64_t> not_permitted_{0};
  std::unique_ptr<Metrics> metrics_;
};

template <typename Call, typename OutcomeOf>
std::invoke_result_t<Call&> CircuitBreaker::Guarded(const Permit& permit, Call& call,
                                                    OutcomeOf outcome_of) {
  const int64_t start = NowNanos();
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  try {
    std::invoke_result_t<Call&> result = call();
    OnOutcome(permit, outcome_of(result), start);
    return result;
  } catch (...) {
    OnOutcome(permit, Outcome::kFailure, start);
    throw;
  }
#else
  std::invoke_result_t<Call&> result = call();
  OnOutcome(permit, outcome_of(result), start);
  return result;
#endif
}

template <typename Call, typename Classify>
absl::StatusOr<std::invoke_result_t<Call&>> CircuitBreaker::Execute(Call&& call,
                                                                    Classify&& classify) {
  const Permit permit = TryAcquire();
  if (!permit) return NotPermitted();
  return Guarded(permit, call, [&classify](const std::invoke_result_t<Call&>& result) {
    if constexpr (std::is_same_v<std::decay_t<decltype(classify(result))>, Outcome>) {
      return classify(result);
    } else {
      return classify(result) ? Outcome::kSuccess : Outcome::kFailure;
    }
  });
}

template <typename Call>
std::invoke_result_t<Call&> CircuitBreaker::Execute(Call&& call) {
  using Result = std::invoke_result_t<Call&>;
  static_assert(
      std::is_same_v<Result, absl::Status> || std::is_constructible_v<Result, absl::Status>,
      "Execute(call) needs a call returning absl::Status or absl::StatusOr<T>; "
      "give other calls a classifier: Execute(call, classify)");
  const Permit permit = TryAcquire();
  if (!permit) return NotPermitted();
  return Guarded(permit, call, [](const Result& result) {
    return result.ok() ? Outcome::kSuccess : Outcome::kFailure;
  });
}

}  // namespace vitals

#endif  // VITALS_CIRCUIT_BREAKER_H_
