// agent/upstream/circuit_breaker_metrics.h: a CircuitBreaker's insides: its sliding window, and
// the metric handles of a breaker bound to an agent (resilience4j's names;
// vitals/circuit_breaker.h lists them), made by Metrics::Create from the breaker families,
// which this feature declares as every feature does (CreateFamilies).

#ifndef VITALS_AGENT_UPSTREAM_CIRCUIT_BREAKER_METRICS_H_
#define VITALS_AGENT_UPSTREAM_CIRCUIT_BREAKER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/core/registry.h"
#include "vitals/circuit_breaker.h"
#include "vitals/metrics.h"

namespace vitals {

// The closed state's sliding window and the epoch-tagged totals of every state.
struct CircuitBreaker::Window {
  explicit Window(uint32_t n) : size(n), slots(new std::atomic<uint32_t>[n]) {
    for (uint32_t i = 0; i < n; ++i) slots[i].store(0, std::memory_order_relaxed);
  }
  const uint32_t size;
  // (epoch & 0xffffff) << 8 | outcome bits; 0: empty. A slot of another epoch is empty.
  std::unique_ptr<std::atomic<uint32_t>[]> slots;
  std::atomic<uint64_t> pos{0};
  // Packed (epoch, calls, failures, slow) of the closed window and of the half-open probes
  // (circuit_breaker.cc), and epoch-tagged counts (epoch << 32 | count).
  std::atomic<uint64_t> totals{0}, half_totals{0};
  std::atomic<uint64_t> slow_failures{0}, consecutive{0};
};

struct CircuitBreaker::Metrics {
  // resilience4j's states, in its order (the `state` label, and StateName); vitals enters the
  // first three, State's values.
  static constexpr const char* kStates[6] = {"closed",      "open",     "half_open",
                                             "forced_open", "disabled", "metrics_only"};
  static constexpr const char* kKinds[3] = {"successful", "failed", "ignored"};

  // The handles of breaker `name` in `registry` (its families are made by the first breaker);
  // the first family's error when one cannot be made.
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(internal::Registry& registry,
                                                         const std::string& name);

  Gauge state[6];
  Histogram calls[3];
  Counter not_permitted;
  Gauge failure_rate, slow_call_rate;
  Gauge buffered[2], slow_calls[2];  // [0] successful, [1] failed
  // The refresher that sets the gauges before each scrape; removed by the destructor while the
  // agent (`life`, its token) lives. The handles above record nothing once it is gone.
  internal::Registry* registry = nullptr;
  uint64_t refresher = 0;
  uint64_t life = 0;
};

}  // namespace vitals

#endif  // VITALS_AGENT_UPSTREAM_CIRCUIT_BREAKER_METRICS_H_
