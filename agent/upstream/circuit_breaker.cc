#include "vitals/circuit_breaker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/core/family_spec.h"
#include "agent/upstream/circuit_breaker_metrics.h"
#include "vitals/options.h"

namespace vitals {
namespace {

// The window gauges are refreshed at every state change and every this many calls (each
// refresh is six gauge sets, O(CPUs) each: about 2 ns a call spread over 64).
CircuitBreaker::State StateOf(uint64_t word) {
  return static_cast<CircuitBreaker::State>(word & 3);
}
uint32_t PermitsOf(uint64_t word) { return static_cast<uint32_t>((word >> 2) & 0xffff); }
uint32_t EpochOf(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
uint64_t MakeWord(CircuitBreaker::State state, uint32_t permits, uint32_t epoch) {
  return static_cast<uint64_t>(state) | static_cast<uint64_t>(permits) << 2 |
         static_cast<uint64_t>(epoch) << 32;
}

// A count that belongs to one epoch: epoch << 32 | count. Adding for a newer epoch starts it
// from zero; adding for an older one is dropped (returns -1).
int64_t TaggedAdd(std::atomic<uint64_t>& tagged, uint32_t epoch, int64_t delta) {
  uint64_t cur = tagged.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t owner = static_cast<uint32_t>(cur >> 32);
    if (owner != epoch && static_cast<int32_t>(epoch - owner) < 0) return -1;
    const int64_t base = owner == epoch ? static_cast<int64_t>(static_cast<uint32_t>(cur)) : 0;
    int64_t next = base + delta;
    if (next < 0) next = 0;
    const uint64_t value = static_cast<uint64_t>(epoch) << 32 | static_cast<uint32_t>(next);
    if (tagged.compare_exchange_weak(cur, value, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      return next;
    }
  }
}

// The window's totals, packed with the low 16 bits of their epoch in one word so that one
// compare-and-swap updates them together: epoch << 48 | calls << 32 | failures << 16 | slow.
struct Totals {
  int64_t calls = 0, failures = 0, slow = 0;
};

// Adds to the totals of `epoch` (those of an older epoch start from zero); false when a newer
// epoch owns the word (the outcome is dropped). `out` gets the totals after.
bool PackedAdd(std::atomic<uint64_t>& packed, uint32_t epoch, int64_t calls, int64_t failures,
               int64_t slow, Totals* out) {
  const uint64_t e16 = epoch & 0xffff;
  uint64_t cur = packed.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t owner = cur >> 48;
    if (owner != e16 && static_cast<int16_t>(static_cast<uint16_t>(e16 - owner)) < 0) {
      return false;
    }
    const bool same = owner == e16;
    const auto field = [&](int shift, int64_t delta) {
      const int64_t base = same ? static_cast<int64_t>((cur >> shift) & 0xffff) : 0;
      const int64_t v = base + delta;
      return v < 0 ? int64_t{0} : v > 0xffff ? int64_t{0xffff} : v;
    };
    Totals t;
    t.calls = field(32, calls);
    t.failures = field(16, failures);
    t.slow = field(0, slow);
    const uint64_t next = e16 << 48 | static_cast<uint64_t>(t.calls) << 32 |
                          static_cast<uint64_t>(t.failures) << 16 | static_cast<uint64_t>(t.slow);
    if (packed.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      *out = t;
      return true;
    }
  }
}

Totals PackedRead(const std::atomic<uint64_t>& packed, uint32_t epoch) {
  const uint64_t cur = packed.load(std::memory_order_acquire);
  Totals t;
  if ((cur >> 48) != (epoch & 0xffff)) return t;
  t.calls = static_cast<int64_t>((cur >> 32) & 0xffff);
  t.failures = static_cast<int64_t>((cur >> 16) & 0xffff);
  t.slow = static_cast<int64_t>(cur & 0xffff);
  return t;
}

int64_t TaggedRead(const std::atomic<uint64_t>& tagged, uint32_t epoch) {
  const uint64_t cur = tagged.load(std::memory_order_acquire);
  return static_cast<uint32_t>(cur >> 32) == epoch ? static_cast<uint32_t>(cur) : 0;
}

}  // namespace

absl::Status CircuitBreaker::Validate(const CircuitBreakerOptions& o) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("circuit breaker options: ", why));
  };
  if (!(o.failure_rate_threshold > 0 && o.failure_rate_threshold <= 100)) {
    return bad("failure_rate_threshold must be in (0, 100]");
  }
  if (!(o.slow_call_rate_threshold > 0 && o.slow_call_rate_threshold <= 100)) {
    return bad("slow_call_rate_threshold must be in (0, 100]");
  }
  if (o.sliding_window_size < 1 || o.sliding_window_size > 65535) {
    return bad("sliding_window_size must be 1 to 65535");
  }
  if (o.minimum_number_of_calls < 1 || o.minimum_number_of_calls > o.sliding_window_size) {
    return bad("minimum_number_of_calls must be 1 to sliding_window_size");
  }
  if (o.consecutive_failures < 0) return bad("consecutive_failures must be >= 0");
  if (o.permitted_calls_in_half_open_state < 1 || o.permitted_calls_in_half_open_state > 65535) {
    return bad("permitted_calls_in_half_open_state must be 1 to 65535");
  }
  if (o.wait_duration_in_open_state < absl::ZeroDuration() ||
      o.slow_call_duration_threshold <= absl::ZeroDuration()) {
    return bad("wait_duration_in_open_state must be >= 0, slow_call_duration_threshold > 0");
  }
  if (o.max_wait_duration_in_half_open_state < absl::ZeroDuration()) {
    return bad("max_wait_duration_in_half_open_state must be >= 0");
  }
  return absl::OkStatus();
}

void CircuitBreaker::Init(const Clock* clock, std::shared_ptr<LogSink> log) {
  status_ = Validate(options_);
  if (!status_.ok()) {
    const auto keep_clock = options_.clock;
    auto keep_sink = std::move(options_.log_sink);
    options_ = CircuitBreakerOptions();
    options_.clock = keep_clock;
    options_.log_sink = std::move(keep_sink);
  }
  clock_ = clock;
  log_ = std::move(log);
  wait_nanos_ = absl::ToInt64Nanoseconds(options_.wait_duration_in_open_state);
  half_open_max_nanos_ = absl::ToInt64Nanoseconds(options_.max_wait_duration_in_half_open_state);
  slow_nanos_ = absl::ToInt64Nanoseconds(options_.slow_call_duration_threshold);
  window_ = std::make_unique<Window>(static_cast<uint32_t>(options_.sliding_window_size));
  word_.store(MakeWord(State::kClosed, 0, 1), std::memory_order_release);
}

absl::StatusOr<std::unique_ptr<CircuitBreaker::Metrics>> CircuitBreaker::Metrics::Create(
    internal::Registry& registry, const std::string& name) {
  using internal::Family;
  using internal::MetricType;
  Family *state = nullptr, *calls = nullptr, *refused = nullptr, *rate = nullptr,
         *slow_rate = nullptr, *buffered = nullptr, *slow = nullptr;
  absl::Status s = internal::CreateFamilies(
      registry,
      {
          {&state,
           "resilience4j_circuitbreaker_state",
           "The states of the circuit breaker: 1 for the current one.",
           MetricType::kGauge,
           {"name", "state"}},
          {&calls,
           "resilience4j_circuitbreaker_calls_seconds",
           "Durations of the calls through the circuit breaker, by kind: successful, failed or "
           "ignored.",
           MetricType::kHistogram,
           {"kind", "name"},
           DefaultRequestDurationBuckets()},
          {&refused,
           "resilience4j_circuitbreaker_not_permitted_calls_total",
           "Total number of not permitted calls.",
           MetricType::kCounter,
           {"kind", "name"}},
          {&rate,
           "resilience4j_circuitbreaker_failure_rate",
           "The failure rate of the circuit breaker, percent; -1 until the window holds the "
           "minimum number of calls.",
           MetricType::kGauge,
           {"name"}},
          {&slow_rate,
           "resilience4j_circuitbreaker_slow_call_rate",
           "The slow-call rate of the circuit breaker, percent; -1 until the window holds the "
           "minimum number of calls.",
           MetricType::kGauge,
           {"name"}},
          {&buffered,
           "resilience4j_circuitbreaker_buffered_calls",
           "The calls in the sliding window, by kind: successful or failed.",
           MetricType::kGauge,
           {"kind", "name"}},
          {&slow,
           "resilience4j_circuitbreaker_slow_calls",
           "The slow calls in the sliding window, by kind: successful or failed.",
           MetricType::kGauge,
           {"kind", "name"}},
      });
  if (!s.ok()) return s;
  auto m = std::make_unique<Metrics>();
  auto series = [&name](Family* f, absl::string_view first, bool name_first) {
    const absl::string_view two[] = {name_first ? absl::string_view(name) : first,
                                     name_first ? first : absl::string_view(name)};
    return f->Find(absl::MakeConstSpan(two, 2));
  };
  const absl::string_view one[] = {name};
  for (int i = 0; i < 6; ++i)
    m->state[i] = Family::MakeHandle<Gauge>(series(state, kStates[i], true));
  for (int i = 0; i < 3; ++i) {
    m->calls[i] = Family::MakeHandle<Histogram>(series(calls, kKinds[i], false));
  }
  m->not_permitted = Family::MakeHandle<Counter>(series(refused, "not_permitted", false));
  m->failure_rate = Family::MakeHandle<Gauge>(rate->Find(one));
  m->slow_call_rate = Family::MakeHandle<Gauge>(slow_rate->Find(one));
  for (int i = 0; i < 2; ++i) {
    m->buffered[i] = Family::MakeHandle<Gauge>(series(buffered, kKinds[i], false));
    m->slow_calls[i] = Family::MakeHandle<Gauge>(series(slow, kKinds[i], false));
  }
  m->registry = &registry;
  m->life = registry.life();
  return m;
}

void CircuitBreaker::BindMetrics(internal::Registry& registry) {
  auto m = Metrics::Create(registry, name_);
  if (!m.ok()) {
    if (status_.ok()) status_ = m.status();
    return;
  }
  metrics_ = *std::move(m);
  PublishGauges(/*state=*/true);
  metrics_->refresher = registry.AddRefresher("resilience4j_circuitbreaker_state",
                                              [this] { PublishGauges(/*state=*/true); });
}

CircuitBreaker::~CircuitBreaker() {
  // A breaker may outlive its agent (a static one bound to an agent in main): then the
  // registry and its refreshers are gone already.
  if (metrics_ != nullptr && metrics_->registry != nullptr &&
      internal::AgentAlive(metrics_->life)) {
    metrics_->registry->RemoveRefresher(metrics_->refresher);  // waits for a running scrape
  }
}

absl::string_view CircuitBreaker::StateName(State state) {
  return Metrics::kStates[static_cast<int>(state)];
}

CircuitBreaker::State CircuitBreaker::state() const {
  return StateOf(word_.load(std::memory_order_acquire));
}

CircuitBreaker::Permit CircuitBreaker::TryAcquire() {
  Permit permit;
  uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    switch (StateOf(w)) {
      case State::kClosed:
        permit.granted_ = true;
        permit.epoch_ = EpochOf(w);
        return permit;
      case State::kOpen: {
        const int64_t now = clock_->NowNanos();
        if (now < open_until_.load(std::memory_order_acquire)) break;
        // The wait is over: half-open, this call the first probe. The deadline is stored
        // before the state (release), so whoever sees half-open sees its deadline.
        if (half_open_max_nanos_ > 0) {
          half_open_until_.store(now + half_open_max_nanos_, std::memory_order_release);
        }
        if (word_.compare_exchange_strong(w, MakeWord(State::kHalfOpen, 1, EpochOf(w) + 1),
                                          std::memory_order_acq_rel)) {
          if (log_ != nullptr) {
            log_->Write(LogSeverity::kInfo,
                        absl::StrCat("circuit breaker \"", name_,
                                     "\": open -> half_open (the wait in the open state is over; ",
                                     options_.permitted_calls_in_half_open_state,
                                     " probe calls let through)"));
          }
          PublishGauges(/*state=*/true);
          permit.granted_ = true;
          permit.epoch_ = EpochOf(w) + 1;
          return permit;
        }
        continue;  // w reloaded
      }
      case State::kHalfOpen:
        if (half_open_max_nanos_ > 0 &&
            clock_->NowNanos() >= half_open_until_.load(std::memory_order_acquire)) {
          // Probes that never reported (or too few calls came) must not hold it half-open.
          Transition(
              w, State::kOpen,
              absl::StrCat(PermitsOf(w), " of ", options_.permitted_calls_in_half_open_state,
                           " probe calls let through, not all finished within "
                           "max_wait_duration_in_half_open_state ",
                           absl::FormatDuration(options_.max_wait_duration_in_half_open_state)));
          w = word_.load(std::memory_order_acquire);
          continue;  // open now (or changed by another thread): decide again
        }
        if (PermitsOf(w) >= static_cast<uint32_t>(options_.permitted_calls_in_half_open_state)) {
          break;
        }
        if (word_.compare_exchange_weak(w, w + (uint64_t{1} << 2), std::memory_order_acq_rel)) {
          permit.granted_ = true;
          permit.epoch_ = EpochOf(w);
          return permit;
        }
        continue;
    }
    not_permitted_.fetch_add(1, std::memory_order_relaxed);
    if (metrics_ != nullptr) PublishNotPermitted();
    return permit;
  }
}

absl::Status CircuitBreaker::NotPermitted() const {
  return absl::UnavailableError(
      absl::StrCat("circuit breaker ", name_, " is ", StateName(state()), ": call not permitted"));
}

void CircuitBreaker::OnOutcome(const Permit& permit, Outcome outcome, int64_t start_nanos) {
  const absl::Duration elapsed = absl::Nanoseconds(NowNanos() - start_nanos);
  switch (outcome) {
    case Outcome::kSuccess:
      OnSuccess(permit, elapsed);
      break;
    case Outcome::kFailure:
      OnFailure(permit, elapsed);
      break;
    case Outcome::kIgnored:
      OnIgnored(permit, elapsed);
      break;
  }
}

void CircuitBreaker::OnSuccess(const Permit& permit, absl::Duration duration) {
  uint32_t outcome = kSuccess;
  if (duration >= options_.slow_call_duration_threshold) {
    outcome |= kSlow;
    if (options_.slow_calls_are_failures) outcome = kFailure | kSlow;
  }
  Record(permit, outcome, duration);
}

void CircuitBreaker::OnFailure(const Permit& permit, absl::Duration duration) {
  uint32_t outcome = kFailure;
  if (duration >= options_.slow_call_duration_threshold) outcome |= kSlow;
  Record(permit, outcome, duration);
}

void CircuitBreaker::OnIgnored(const Permit& permit, absl::Duration duration) {
  if (!permit.granted_) return;
  ObserveCall(2, duration);
  // A half-open probe that says nothing is given back for another call to use.
  uint64_t w = word_.load(std::memory_order_acquire);
  while (StateOf(w) == State::kHalfOpen && EpochOf(w) == permit.epoch_ && PermitsOf(w) > 0 &&
         !word_.compare_exchange_weak(w, w - (uint64_t{1} << 2), std::memory_order_acq_rel)) {
  }
}

void CircuitBreaker::Record(const Permit& permit, uint32_t outcome, absl::Duration duration) {
  if (!permit.granted_) return;
  ObserveCall((outcome & kFailure) ? 1 : 0, duration);
  const uint64_t w = word_.load(std::memory_order_acquire);
  const uint32_t epoch = permit.epoch_;
  if (EpochOf(w) != epoch) return;  // permitted in a state that is gone
  if (StateOf(w) == State::kHalfOpen) {
    RecordHalfOpen(w, outcome);
    return;
  }
  if (StateOf(w) != State::kClosed) return;
  Window& win = *window_;
  const bool failed = (outcome & kFailure) != 0;
  if (options_.consecutive_failures > 0) {
    const int64_t run = TaggedAdd(win.consecutive, epoch, failed ? 1 : -(int64_t{1} << 40));
    if (failed && run >= options_.consecutive_failures) {
      Transition(w, State::kOpen,
                 absl::StrCat(run, " consecutive failures (threshold ",
                              options_.consecutive_failures, ")"));
      return;
    }
  }
  const uint32_t entry = (epoch & 0xffffff) << 8 | outcome;
  const uint64_t index = win.pos.fetch_add(1, std::memory_order_relaxed);
  const uint32_t old = win.slots[index % win.size].exchange(entry, std::memory_order_acq_rel);
  const bool same = old != 0 && (old >> 8) == (epoch & 0xffffff);
  const auto had = [&](uint32_t bit) -> int64_t { return same && (old & bit) ? 1 : 0; };
  const bool slow_call = (outcome & kSlow) != 0;
  // A full window whose replaced outcome was the same as this one (the steady state): the
  // totals, and so the rates and the decision, do not change. Two atomic operations in all.
  if (same && (old & (kFailure | kSlow)) == (outcome & (kFailure | kSlow))) return;
  Totals t;
  if (!PackedAdd(win.totals, epoch, same ? 0 : 1, (failed ? 1 : 0) - had(kFailure),
                 (slow_call ? 1 : 0) - had(kSlow), &t)) {
    return;
  }
  if (slow_call || had(kSlow)) {  // slow failures, for the slow_calls{kind} gauge
    TaggedAdd(win.slow_failures, epoch,
              (slow_call && failed ? 1 : 0) - (had(kSlow) & had(kFailure)));
  }
  if (t.calls >= options_.minimum_number_of_calls) {
    const double calls = static_cast<double>(t.calls);
    const double failure_rate = 100.0 * static_cast<double>(t.failures) / calls;
    const double slow_rate = 100.0 * static_cast<double>(t.slow) / calls;
    if (failure_rate >= options_.failure_rate_threshold) {
      Transition(w, State::kOpen,
                 absl::StrFormat("failure rate %.1f%% of the last %d calls (threshold %.1f%%)",
                                 failure_rate, t.calls, options_.failure_rate_threshold));
      return;
    }
    if (slow_rate >= options_.slow_call_rate_threshold) {
      Transition(w, State::kOpen,
                 absl::StrFormat("slow-call rate %.1f%% of the last %d calls (threshold %.1f%%)",
                                 slow_rate, t.calls, options_.slow_call_rate_threshold));
      return;
    }
  }
}

void CircuitBreaker::RecordHalfOpen(uint64_t w, uint32_t outcome) {
  Window& win = *window_;
  const uint32_t epoch = EpochOf(w);
  // One word: the caller whose add completes the probes sees all of their outcomes.
  Totals t;
  if (!PackedAdd(win.half_totals, epoch, 1, (outcome & kFailure) ? 1 : 0, (outcome & kSlow) ? 1 : 0,
                 &t) ||
      t.calls != options_.permitted_calls_in_half_open_state) {
    return;
  }
  const int64_t calls = t.calls;
  const double failures = static_cast<double>(t.failures);
  const double slow = static_cast<double>(t.slow);
  const double failure_rate = 100.0 * failures / static_cast<double>(calls);
  const double slow_rate = 100.0 * slow / static_cast<double>(calls);
  if (failure_rate >= options_.failure_rate_threshold ||
      slow_rate >= options_.slow_call_rate_threshold) {
    Transition(w, State::kOpen,
               absl::StrFormat("%d probe calls: failure rate %.1f%%, slow-call rate %.1f%%", calls,
                               failure_rate, slow_rate));
  } else {
    Transition(w, State::kClosed,
               absl::StrFormat("%d probe calls: failure rate %.1f%%, slow-call rate %.1f%%", calls,
                               failure_rate, slow_rate));
  }
}

bool CircuitBreaker::Transition(uint64_t from, State to, absl::string_view why) {
  // Read the whole word again: half-open permits change it without a state change.
  uint64_t cur = word_.load(std::memory_order_acquire);
  if (EpochOf(cur) != EpochOf(from) || StateOf(cur) != StateOf(from)) return false;
  if (to == State::kOpen) {
    // Published with the state (release): whoever sees "open" sees its end.
    open_until_.store(clock_->NowNanos() + wait_nanos_, std::memory_order_release);
  }
  if (!word_.compare_exchange_strong(cur, MakeWord(to, 0, EpochOf(from) + 1),
                                     std::memory_order_acq_rel)) {
    return false;
  }
  if (log_ != nullptr) {
    log_->Write(to == State::kOpen ? LogSeverity::kWarning : LogSeverity::kInfo,
                absl::StrCat("circuit breaker \"", name_, "\": ", StateName(StateOf(from)), " -> ",
                             StateName(to), " (", why, ")"));
  }
  PublishGauges(/*state=*/true);
  return true;
}

void CircuitBreaker::ObserveCall(int kind, absl::Duration duration) {
  if (metrics_ != nullptr) metrics_->calls[kind].Observe(absl::ToDoubleSeconds(duration));
}

void CircuitBreaker::PublishNotPermitted() { metrics_->not_permitted.Increment(); }

void CircuitBreaker::PublishGauges(bool state) {
  if (metrics_ == nullptr) return;
  const uint64_t w = word_.load(std::memory_order_acquire);
  const State current = StateOf(w);
  if (state) {
    for (int i = 0; i < 6; ++i) metrics_->state[i].Set(i == static_cast<int>(current) ? 1 : 0);
  }
  const uint32_t epoch = EpochOf(w);
  const Window& win = *window_;
  const Totals t = PackedRead(win.totals, epoch);
  const double calls = static_cast<double>(t.calls);
  const double failures = static_cast<double>(t.failures);
  const double slow = static_cast<double>(t.slow);
  const double slow_failures = static_cast<double>(TaggedRead(win.slow_failures, epoch));
  const bool enough = calls >= options_.minimum_number_of_calls;
  metrics_->failure_rate.Set(enough ? 100.0 * failures / calls : -1);
  metrics_->slow_call_rate.Set(enough ? 100.0 * slow / calls : -1);
  metrics_->buffered[0].Set(calls - failures);
  metrics_->buffered[1].Set(failures);
  metrics_->slow_calls[0].Set(slow - slow_failures);
  metrics_->slow_calls[1].Set(slow_failures);
}

double CircuitBreaker::failure_rate() const {
  const uint32_t epoch = EpochOf(word_.load(std::memory_order_acquire));
  const Totals t = PackedRead(window_->totals, epoch);
  if (t.calls < options_.minimum_number_of_calls) return -1;
  return 100.0 * static_cast<double>(t.failures) / static_cast<double>(t.calls);
}

double CircuitBreaker::slow_call_rate() const {
  const uint32_t epoch = EpochOf(word_.load(std::memory_order_acquire));
  const Totals t = PackedRead(window_->totals, epoch);
  if (t.calls < options_.minimum_number_of_calls) return -1;
  return 100.0 * static_cast<double>(t.slow) / static_cast<double>(t.calls);
}

}  // namespace vitals
