// vitals/callback.h: metrics whose values a function gives at scrape time (client_golang's
// GaugeFunc and CounterFunc, OpenTelemetry's observable instruments, Micrometer's
// Gauge.builder): a queue's depth, a pool's connections, the counters a library keeps itself.
//
//   absl::StatusOr<vitals::CallbackRegistration> depth = agent.AddGaugeCallback(
//       "jobs_queued", "Jobs waiting.", [&queue] { return static_cast<double>(queue.size()); });
//
// `Agent::AddGaugeCallback` / `AddCounterCallback` (vitals/agent.h) register the function; the
// returned registration unregisters it when destroyed. The form with label names gets a
// `CallbackObserver` and sets any number of series of its family in one call; a series it does
// not observe in a round is removed (it leaves the exposition and frees its place under the
// series limit, so label values may come and go; while the callback runs, the last round's
// series still count) until it is observed again.
//
// When it runs: before every scrape, push and live-page sample, on the agent's callback thread,
// one function after another. A scrape waits for them at most `Options::callback_timeout`
// (500 ms by default); past it, it serves the values they set last, and the function still
// running is counted in `vitals_callback_failures_total{metric,reason="timeout"}` and logged
// once per overrun. A function that throws (any exception), or returns a non-OK status, or
// gives a counter a negative or NaN value, is counted with reason `exception` or `error`; its
// series keep their last values. Nothing it does reaches the scrape or the host.
//
// Keep what the function uses alive until its registration is destroyed (or Reset); the
// registration waits for a running call, so the state may go right after. The agent's
// destruction also waits for a callback that is running: one that never returns holds it.
// Thread-safety: the function runs on one thread of the agent's, never twice at once; a
// registration may be destroyed from any thread, the function's own included (it then does not
// wait for itself). Cost: one std::function call per scrape per callback, plus a series
// look-up per observed value (BENCHMARKS.md, "Callbacks and removal").

#ifndef VITALS_CALLBACK_H_
#define VITALS_CALLBACK_H_

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "vitals/detail/export.h"

namespace vitals {
namespace internal {
class Family;
class Registry;
struct CallbackAccess;
}  // namespace internal

// What a callback with labels sets its series through; valid only during the call.
class VITALS_EXPORT CallbackObserver {
 public:
  // Sets the series of `values` (one per label name, in the order they were given) to `value`
  // for this scrape. InvalidArgument for a wrong number of values, and for a counter, a
  // negative or NaN value (the series keeps its last value). Label values are repaired and
  // bounded as `WithLabels` does (vitals/metrics.h); past the series limit, the overflow series.
  absl::Status Observe(double value, absl::Span<const absl::string_view> values);
  absl::Status Observe(double value, std::initializer_list<absl::string_view> values = {}) {
    return Observe(value, absl::MakeConstSpan(values.begin(), values.size()));
  }

 private:
  friend struct internal::CallbackAccess;
  CallbackObserver(internal::Family* family, uint64_t round, absl::Status* error)
      : family_(family), round_(round), error_(error) {}
  internal::Family* family_;
  uint64_t round_;
  absl::Status* error_;  // the first failed Observe of this call
};

// A registered callback. Destroying it (or `Reset`) unregisters the function, waiting while it
// runs, and its series leave the exposition; the metric's name stays reserved for a callback
// of the same type and labels. Movable, not copyable. Once the agent is gone it does nothing.
class VITALS_EXPORT CallbackRegistration {
 public:
  CallbackRegistration() = default;
  ~CallbackRegistration() { Reset(); }
  CallbackRegistration(CallbackRegistration&& other) noexcept { *this = std::move(other); }
  CallbackRegistration& operator=(CallbackRegistration&& other) noexcept;
  CallbackRegistration(const CallbackRegistration&) = delete;
  CallbackRegistration& operator=(const CallbackRegistration&) = delete;

  void Reset();
  bool registered() const { return id_ != 0; }

 private:
  friend struct internal::CallbackAccess;
  CallbackRegistration(internal::Registry* registry, internal::Family* family, uint64_t id,
                       uint64_t life)
      : registry_(registry), family_(family), id_(id), life_(life) {}
  internal::Registry* registry_ = nullptr;
  internal::Family* family_ = nullptr;
  uint64_t id_ = 0;
  uint64_t life_ = 0;
};

}  // namespace vitals

#endif  // VITALS_CALLBACK_H_
