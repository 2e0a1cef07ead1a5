// vitals/metrics.h: counters, gauges and histograms a service defines next to the built-ins.
//
// `Agent::AddCounter()` and friends create a family (one metric name, fixed label names);
// `WithLabels()` resolves one series of it to a handle. Resolve once and keep the handle for hot
// paths: recording on a handle takes no lock and no atomic read-modify-write: it adds to the
// running CPU's copy of the series' cells in a restartable sequence (per-CPU cells, summed when
// Prometheus scrapes; vitals/detail/cells.h). Memory and scrape cost follow the number of CPUs,
// not the number of threads that record.
//
// Ownership: families and handles are small values that point into the agent; copying them is
// cheap. They may outlive the `Agent` that made them: once it is destroyed they record nothing,
// read as zero, and `WithLabels` fails (vitals/detail/agent_life.h; one more load per record).
// A handle may also outlive its series (`MetricFamily::Remove`): it then records nothing and
// reads as zero. Labels may be given by position or by name (`Label`); `Agent::GetCounter` and
// friends reach a handle in one expression; vitals/callback.h has the scrape-time callbacks.
// Thread-safety: every method may be called from any thread at once.

#ifndef VITALS_METRICS_H_
#define VITALS_METRICS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "vitals/detail/agent_life.h"
#include "vitals/detail/cells.h"
#include "vitals/detail/export.h"
#include "vitals/trace_context.h"

namespace vitals {
namespace internal {
class Family;
}  // namespace internal

// A monotonically increasing value. Cost of `Increment`: a check of the agent's life token (one
// load of a line no record writes) and one restartable add to the running CPU's copy of a cell,
// which also compares the series' generation (a removed series' handles record nothing; see
// MetricFamily::Remove): about 3 ns in all (BENCHMARKS.md), no lock, no atomic
// read-modify-write.
class VITALS_EXPORT Counter {
 public:
  Counter() = default;  // A handle that records nothing.

  // Adds `amount`, which must be >= 0 (negative and NaN amounts are ignored).
  void Increment(double amount = 1.0) const {
    if (ABSL_PREDICT_TRUE(internal::AgentAlive(life_)) && amount >= 0) {
      internal::AddToCellChecked(*series_, gen_, amount);
    }
  }

  // The current total: sums every CPU's copy, O(CPUs), no lock; for tests and diagnostics.
  double Value() const;

 private:
  friend class internal::Family;
  Counter(const internal::SeriesCells* series, uint64_t life, uint32_t gen)
      : series_(series), life_(life), gen_(gen) {}
  const internal::SeriesCells* series_ = nullptr;
  uint64_t life_ = 0;  // the agent's token: a default handle's matches no agent
  uint32_t gen_ = 0;   // the series' generation when the handle was made (MetricFamily::Remove)
};

// A value that goes up and down. `Add`/`Increment`/`Decrement` cost the same as a counter
// increment (per-CPU cells). `Set` must see every CPU's share, so it sums them and stores a
// base (O(CPUs)): use it at sampling rates, not per request.
class VITALS_EXPORT Gauge {
 public:
  Gauge() = default;  // A handle that records nothing.

  void Set(double value) const;
  void Add(double amount) const {
    if (ABSL_PREDICT_TRUE(internal::AgentAlive(life_))) {
      internal::AddToCellChecked(*series_, gen_, amount);
    }
  }
  void Increment() const { Add(1.0); }
  void Decrement() const { Add(-1.0); }

  // The current value: sums every CPU's copy, O(CPUs), no lock; for tests and diagnostics.
  double Value() const;

 private:
  friend class internal::Family;
  Gauge(const internal::SeriesCells* series, uint64_t life, uint32_t gen)
      : series_(series), life_(life), gen_(gen) {}
  const internal::SeriesCells* series_ = nullptr;
  uint64_t life_ = 0;
  uint32_t gen_ = 0;
};

// Counts observations into fixed buckets (`le` upper bounds) and sums them. Cost of `Observe`:
// the life-token check, finding the bucket (one compare, or a look-up and a compare or two) and
// one restartable add of the bucket's (count, sum) pair on the running CPU's copy, inlined where
// it is called: about 5 ns here (BENCHMARKS.md).
// NaN observations are ignored.
class VITALS_EXPORT Histogram {
 public:
  Histogram() = default;  // A handle that records nothing.

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Observe(double value) const {
    if (ABSL_PREDICT_TRUE(internal::AgentAlive(life_))) {
      internal::ObserveIntoChecked(*series_, gen_, value);
    }
  }

  // Observes `value` and offers `trace` as the exemplar of the bucket it falls in, when the
  // family keeps exemplars (HistogramFeatures::exemplars) and `trace` is valid. The offer
  // costs one clock read and two loads of the bucket's exemplar slot; it replaces the slot's
  // exemplar (a compare-and-swap and six stores) only when that one is at least 100 ms old.
  // No lock, no allocation.
  void Observe(double value, const TraceContext& trace) const;

  // Observation count and sum over all CPUs' copies (no lock); for tests and diagnostics.
  uint64_t Count() const;
  double Sum() const;

 private:
  friend class internal::Family;
  Histogram(const internal::SeriesCells* series, uint64_t life, uint32_t gen)
      : series_(series), life_(life), gen_(gen) {}
  const internal::SeriesCells* series_ = nullptr;
  uint64_t life_ = 0;
  uint32_t gen_ = 0;
};

// Optional parts of a histogram family (Agent::AddHistogram). Two families of one name must
// ask for the same features.
struct HistogramFeatures {
  // Keep one exemplar per bucket of each series (Histogram::Observe with a TraceContext),
  // served in the OpenMetrics and protobuf formats: 48 bytes per bucket per series.
  bool exemplars = false;

  // Also keep a native (sparse exponential) histogram of each series, served in the protobuf
  // format (Prometheus with `--enable-feature=native-histograms`); the classic buckets stay.
  // Buckets cover (native_zero_threshold, native_max], rounded outwards to powers of two, at
  // `native_schema` (0..8; bucket i holds (2^((i-1)/2^s), 2^(i/2^s)]; schema 3 keeps a
  // quantile within about 5%). Values at or below the threshold (negative ones too) count in
  // the zero bucket, values above max in the top bucket. At most 1,023 buckets in the range
  // (schema 3: 127 powers of two); each costs 8 bytes per series per CPU. A scrape sends the
  // non-empty buckets and lowers the schema while there are more than
  // `native_max_buckets` of them. An observe costs one more per-CPU add, in a call of its own.
  bool native = false;
  int native_schema = 3;
  double native_zero_threshold = 0x1p-20;
  double native_max = 0x1p12;
  uint32_t native_max_buckets = 160;
};

// Bucket bounds for Agent::AddHistogram, made as client_golang's helpers make them, and checked as
// AddHistogram checks bounds (1 to 64 finite, strictly increasing values): InvalidArgument,
// naming the helper, when the arguments cannot give such a list. Each bound is rounded to 12
// significant digits, so powers and steps of ten read as written (le="0.1", not
// le="0.09999999999999999"). Cost: one small allocation.
//
// `count` bounds from `start`, each `factor` times the last: start, start*factor, ...
// Needs start > 0 and factor > 1.
VITALS_EXPORT absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor,
                                                                     int count);
// `count` bounds from `start`, each `width` above the last. Needs width > 0.
VITALS_EXPORT absl::StatusOr<std::vector<double>> LinearBuckets(double start, double width,
                                                                int count);
// `count` bounds from `min` to `max`, both included, each the same factor above the last
// (client_golang's ExponentialBucketsRange). Needs 0 < min < max and count >= 2.
VITALS_EXPORT absl::StatusOr<std::vector<double>> ExponentialBucketsRange(double min, double max,
                                                                          int count);

// A label given by name, as prometheus-cpp takes them: {"channel", "web"}.
struct Label {
  absl::string_view name;
  absl::string_view value;
};

// A metric family: one name, one help text, fixed label names, and its series.
//
// `WithLabels` takes one value per label name, in the order the names were given, or the
// labels by name in any order ({{"channel", "web"}, {"region", "eu"}}). The first
// call for a label set creates the series (taking a lock); later calls find it without a lock
// (a hash of the values and a probe, about 15-25 ns for three short values). Label values may
// be any bytes: invalid UTF-8 is replaced by U+FFFD and values longer than 1024 bytes are cut,
// so the exposition always stays valid. Past the family's series limit every new label set
// resolves to one shared overflow series (see `Options::series_limit`).
template <typename Handle>
class VITALS_EXPORT MetricFamily {
 public:
  MetricFamily() = default;

  // Fails with InvalidArgument when the number of values differs from the number of label
  // names, FailedPrecondition when the agent is gone (or for a default-constructed family).
  absl::StatusOr<Handle> WithLabels(absl::Span<const absl::string_view> values) const;
  absl::StatusOr<Handle> WithLabels(std::initializer_list<absl::string_view> values) const {
    return WithLabels(absl::MakeConstSpan(values.begin(), values.size()));
  }
  // By name: each of the family's label names exactly once, in any order; InvalidArgument
  // naming the unknown, repeated or missing name otherwise. Costs a match of each name against
  // the family's (at most 32) on top of the positional look-up.
  // (A template only so that `WithLabels({})` stays the positional call.)
  absl::StatusOr<Handle> WithLabels(absl::Span<const Label> labels) const;
  template <typename L = Label, typename = std::enable_if_t<std::is_same_v<L, Label>>>
  absl::StatusOr<Handle> WithLabels(std::initializer_list<L> labels) const {
    return WithLabels(absl::MakeConstSpan(labels.begin(), labels.size()));
  }

  // Removes the series of `values` (one per label name, or by name): it leaves the exposition at
  // once, its place under the series limit is free again, and the same label set asked for
  // later is a new series that starts from zero. Handles to the removed series stay safe to use
  // and record nothing (client_golang's DeleteLabelValues semantics, without prometheus-cpp's
  // dangling handles): each record compares the series' generation inside its restartable
  // sequence, and the series' memory is reused by a later series of this family only once no
  // record for the old generation can still land (vitals/detail/cells.h,
  // agent/core/series_reclaim.h). `Value()` on such a handle reads 0. NotFound when there is no
  // such series (or it is the overflow series), InvalidArgument for a wrong number of values or
  // an unknown label name, FailedPrecondition when the agent is gone. Cost: the family's lock,
  // O(series) to unlink it, and one membarrier system call (about 1 us) when its memory is
  // reused.
  absl::Status Remove(absl::Span<const absl::string_view> values) const;
  absl::Status Remove(std::initializer_list<absl::string_view> values) const {
    return Remove(absl::MakeConstSpan(values.begin(), values.size()));
  }
  absl::Status Remove(absl::Span<const Label> labels) const;
  template <typename L = Label, typename = std::enable_if_t<std::is_same_v<L, Label>>>
  absl::Status Remove(std::initializer_list<L> labels) const {
    return Remove(absl::MakeConstSpan(labels.begin(), labels.size()));
  }

  // Makes the family expire idle series, as the outbound-call families do: a series nothing
  // recorded into for `Options::series_idle_ttl` leaves the exposition (after between the TTL
  // and 1.3 times it), its place under the series limit is free and its memory is reused; the
  // same label set recorded later is a new series from zero (rate() and increase() read that
  // as a counter reset). For families whose label values come and go (peers, shards, tenants
  // seen for a while). A handle is good only while its series lives: one whose series expired
  // records nothing, as after Remove. So in such a family resolve the handle where you record
  // (WithLabels is a lock-free lookup) or keep one only for a label set you record into more
  // often than the TTL. Records into a live series are never lost; one that races with the
  // expiry of its own series (the first after a TTL of silence) may be. Costs each record of
  // the family one more load and, once per sweep period (a tenth of the TTL, 0.1 to 30 s),
  // one store. FailedPrecondition when series_idle_ttl is 0 or the agent is gone.
  absl::Status ExpireIdleSeries() const;

  // The metric name, e.g. "orders_processed_total"; empty once the agent is gone.
  const std::string& name() const;

 private:
  friend class internal::Family;
  MetricFamily(internal::Family* family, uint64_t life) : family_(family), life_(life) {}
  internal::Family* family_ = nullptr;
  uint64_t life_ = 0;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

extern template class VITALS_EXPORT MetricFamily<Counter>;
extern template class VITALS_EXPORT MetricFamily<Gauge>;
extern template class VITALS_EXPORT MetricFamily<Histogram>;

}  // namespace vitals

#endif  // VITALS_METRICS_H_
