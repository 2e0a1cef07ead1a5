// agent/core/family.h: one metric family and its series.
//
// Lookups of existing series are lock-free (LabelTable); creating a series takes `mu_` and
// allocates its cells. The family never holds more than `series_limit` label sets: past that,
// lookups resolve to one overflow series whose label values are all `__overflow__`, and each
// such lookup counts in `vitals_series_overflow_total{metric}`.
// Reading never holds `mu_` while it formats: `Visit` copies the series pointers under it and
// lets go, so creating a series waits at most for that copy, never for a render.
// Lock order: Registry::mu_ -> Family::mu_ -> CellStore::alloc_mu_.

#ifndef VITALS_AGENT_CORE_FAMILY_H_
#define VITALS_AGENT_CORE_FAMILY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "agent/base/mutex.h"
#include "agent/core/cell_store.h"
#include "agent/core/exemplar.h"
#include "agent/core/label_table.h"
#include "vitals/clock.h"
#include "vitals/detail/cells.h"
#include "vitals/metrics.h"
#include "vitals/trace_context.h"

namespace vitals {
namespace internal {

// kInfo: OpenMetrics' info type, a gauge of 1 per series in the other formats; its name ends
// in `_info`.
enum class MetricType { kCounter, kGauge, kHistogram, kInfo };

// "counter", "gauge", "histogram" or "info", as OpenMetrics' TYPE line spells them.
absl::string_view MetricTypeName(MetricType type);

inline constexpr absl::string_view kOverflowLabelValue = "__overflow__";
inline constexpr size_t kMaxBuckets = 64;

class Family;

// What a histogram family keeps besides its classic buckets.
struct HistogramExtras {
  bool exemplars = false;  // one ExemplarSlot per bucket of each series
  bool native = false;     // native buckets laid out as `native_layout`
  NativeLayout native_layout;
};
bool operator==(const HistogramExtras& a, const HistogramExtras& b);

// The extras a public histogram family asks for (vitals/metrics.h): InvalidArgument, naming
// `metric`, when the native range or schema is out of bounds.
absl::StatusOr<HistogramExtras> ExtrasOf(absl::string_view metric,
                                         const HistogramFeatures& features);

struct Series : SeriesCells {
  Family* family = nullptr;
  SharedCells shared_cells;                   // SeriesCells::shared
  std::unique_ptr<ExemplarSlot[]> exemplars;  // one per bucket, when the family keeps them
  std::vector<std::string> values;            // repaired label values
  std::string labels_text;                    // `a="x",b="y"`, escaped, no braces
  std::atomic<double> value_base{0.0};
  bool overflow = false;
  // A callback family's overflow series that its callback did not observe in its last round:
  // left out of the exposition (Visit) until it is observed again.
  std::atomic<bool> hidden{false};
  uint64_t observed_round = 0;  // the callback round that last observed it (callback thread)
  // In the family's label table: cleared (before the generation moves) when it is removed, so
  // a lock-free lookup that read the generation before that sees it cleared (Family::Find).
  std::atomic<bool> linked{true};
  // When the idle sweeper last knew it recorded (agent clock nanoseconds; 0: not looked at).
  int64_t idle_seen = 0;
};

// A measured duration as it is recorded: a negative one (clocks of two threads, a caller's own
// arithmetic) counts as zero. The one clamp every duration recorder goes through.
inline int64_t ObservedNanos(int64_t nanos) { return nanos < 0 ? 0 : nanos; }
// The same, as the seconds a duration histogram observes; `seconds_per_unit` converts a
// duration counted in other units (TSC ticks) without a pass through nanoseconds.
inline double ObservedSeconds(int64_t nanos, double seconds_per_unit = 1e-9) {
  return static_cast<double>(ObservedNanos(nanos)) * seconds_per_unit;
}

// The index SeriesCells::by_exponent points to, for sorted finite `bounds`; empty when there are
// no bounds or too many for 16-bit entries.
std::vector<uint16_t> BucketExponentIndex(const std::vector<double>& bounds);

class Family {
 public:
  // `bounds` and `extras` only for histograms (validated by the caller). `clock` times
  // exemplars.
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds, size_t series_limit, HistogramExtras extras = {},
         const Clock* clock = &Clock::Default());
  ~Family();

  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  // `le="..."` texts of the finite bounds, then `le="+Inf"`.
  const std::vector<std::string>& le_texts() const { return le_texts_; }
  uint32_t cells_per_series() const { return cells_per_series_; }
  const HistogramExtras& extras() const { return extras_; }
  bool keeps_exemplars() const { return extras_.exemplars; }
  // The native buckets' layout, or null when the family keeps none.
  const NativeLayout* native_layout() const {
    return extras_.native ? &extras_.native_layout : nullptr;
  }
  const Clock& clock() const { return *clock_; }

  // The series for `values` (one per label name; the caller checks the count). Never null:
  // past the limit, or if the process ran out of cells, this is the overflow series. With
  // `gen`, also its generation as it was while the series had these labels: a record checked
  // against it (AddToCellChecked) never lands in a series removed and reused meanwhile.
  Series* Find(absl::Span<const absl::string_view> values, uint32_t* gen = nullptr);

  // `values` checked against the label names, then Find.
  absl::StatusOr<Series*> Get(absl::Span<const absl::string_view> values, uint32_t* gen = nullptr);
  // InvalidArgument, naming the family, unless `count` values match its label names.
  absl::Status CheckValueCount(size_t count) const;

  // False when the family could not get cells for its overflow series (unusable).
  bool ok() const { return overflow_ != nullptr; }

  // The overflow series, marked as used (it is only emitted once used).
  Series* overflow_series();

  // A public handle (Counter, Gauge, Histogram) on `series`, or (MetricFamily) on a family,
  // that records nothing once the family's agent is gone.
  static uint64_t LifeOf(const Series* series) { return series->family->life(); }
  static uint64_t LifeOf(const Family* family) { return family->life(); }
  template <typename Handle>
  static Handle MakeHandle(Family* family) {
    return Handle(family, LifeOf(family));
  }
  // A series handle records only while the series keeps the generation it has now.
  template <typename Handle>
  static Handle MakeHandle(Series* series) {
    return Handle(series, LifeOf(series), series->generation.load(std::memory_order_acquire));
  }
  // The same, for a series whose generation Find returned (a family whose series may go).
  template <typename Handle>
  static Handle MakeHandle(Series* series, uint32_t gen) {
    return Handle(series, LifeOf(series), gen);
  }

  // The token of the agent this family belongs to (vitals/detail/agent_life.h); set by the
  // registry when it creates the family.
  uint64_t life() const { return life_; }
  void set_life(uint64_t token) { life_ = token; }

  // A family created through the public API (Agent::AddCounter, ...): its series may be removed
  // (MetricFamily::Remove). Set by the registry before the family is shared. Built-in families
  // are not removable: the agent keeps pointers to their series.
  bool removable() const { return removable_; }
  void set_removable() {
    removable_ = true;
    table_.set_reclaimable();
  }
  // A built-in family whose series idle expiry may remove (Family::ExpireIdle): its label table
  // counts its readers. Before the family is shared.
  void set_expirable() { table_.set_reclaimable(); }
  // A family that identifies the target (target_info): served without the registry's constant
  // labels, its own labels being the target's identity. Set before the family is shared.
  bool identity() const { return identity_; }
  void set_identity() { identity_ = true; }
  // Removes the series of `values` (see MetricFamily::Remove for the contract): it leaves the
  // exposition and the label table, its generation moves (its handles record nothing), and its
  // struct and cells are reused by a later series of this family once ReclaimGrace() holds
  // while no Visit reads the family.
  absl::Status Remove(absl::Span<const absl::string_view> values) ABSL_LOCKS_EXCLUDED(mu_);
  // Idle expiry (Options::series_idle_ttl). From this call on, every series of the family
  // marks the epoch `epoch` reads when it records (NoteRecord), and IdleSeries/ExpireIdle may
  // remove it; `only_at_zero`: a gauge series is kept while it reads anything but 0 (calls in
  // flight). Only for a family whose label table counts its readers (removable, or set up so
  // before it is shared); FailedPrecondition otherwise.
  absl::Status ExpireIdle(const std::atomic<uint32_t>* epoch, bool only_at_zero = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  bool expires_idle() const { return idle_epoch_.load(std::memory_order_acquire) != nullptr; }
  // The epoch a family of the public API expires by when asked (MetricFamily::
  // ExpireIdleSeries): the registry's, or null when series_idle_ttl is 0. Set at creation.
  const std::atomic<uint32_t>* idle_source() const { return idle_source_; }
  void set_idle_source(const std::atomic<uint32_t>* epoch) { idle_source_ = epoch; }
  // A family whose idle series its owner sweeps (it keeps pointers to them): the registry's
  // sweep leaves it alone. Set before ExpireIdle.
  bool idle_swept_by_owner() const { return idle_swept_by_owner_; }
  void set_idle_swept_by_owner() { idle_swept_by_owner_ = true; }
  // The series not recorded for at least `ttl` nanoseconds at `now` (the agent clock), as the
  // sweeper sees them: a series recorded in the current epoch or the one before counts as
  // recorded at `now`. One sweeper at a time; the epoch moves after each sweep.
  std::vector<Series*> IdleSeries(int64_t now, int64_t ttl) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes those of `candidates` (IdleSeries' answer) that are still in the family and still
  // not recorded since, as Remove does; returns how many.
  size_t ExpireSeries(absl::Span<Series* const> candidates) ABSL_LOCKS_EXCLUDED(mu_);
  // IdleSeries then ExpireSeries, for a family nothing else keeps series pointers of.
  size_t SweepIdle(int64_t now, int64_t ttl) ABSL_LOCKS_EXCLUDED(mu_);
  // Series removed by idle expiry so far (vitals_series_expired_total).
  uint64_t expired_series() const { return expired_.load(std::memory_order_relaxed); }
  // Retries the reuse of removed series (the sweeper calls it every period).
  void Reclaim() ABSL_LOCKS_EXCLUDED(mu_);

  // The series budget (vitals_series, /vitals.json series_budget): live label sets shown in
  // the exposition (not its __overflow__ series, nor hidden ones), the most it keeps, and the
  // label-set lookups folded into
  // __overflow__ past that (vitals_series_overflow_total's value for it).
  size_t live_series() ABSL_LOCKS_EXCLUDED(mu_);
  size_t series_limit() const { return series_limit_; }
  double overflowed_lookups() const;
  // Removed series waiting to be reused, and ready for reuse (for tests).
  size_t retiring_series() ABSL_LOCKS_EXCLUDED(mu_);
  size_t reusable_series() ABSL_LOCKS_EXCLUDED(mu_);
  // Series made from a removed one's memory so far (for tests).
  size_t series_reused() ABSL_LOCKS_EXCLUDED(mu_);

  // A family whose values a scrape-time callback sets (vitals/callback.h): set by the registry
  // when it creates one; only callbacks may own it, one at a time.
  bool for_callbacks() const { return for_callbacks_; }
  void set_for_callbacks() {
    for_callbacks_ = true;
    table_.set_reclaimable();  // the series a callback leaves out are removed
  }
  // Takes the family for one callback; false when another holds it.
  bool Own() { return !owned_.exchange(true); }
  // Lets it go: every series is removed (the overflow series hidden) until observed again.
  void Disown() ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the series that callback round `round` did not observe, and hides the overflow
  // series if it was not (callback thread).
  void HideUnobserved(uint64_t round) ABSL_LOCKS_EXCLUDED(mu_);

  // Shows or hides `series` (see Series::hidden), keeping the count of hidden label sets that
  // live_series() leaves out. The one way to change the flag of a live series.
  static void SetHidden(Series* series, bool hidden);

  // The overflow series without marking it used.
  Series* overflow_series_unmarked() { return overflow_.get(); }

  // Counts one folded lookup in vitals_series_overflow_total{metric="<this family>"}. The
  // series is created at the first overflow, so a family that never overflows adds no line.
  void NoteOverflow();
  // The family that counts overflows (set by the registry; null: not counted).
  void set_overflow_family(Family* counts) { overflow_family_ = counts; }

  // Makes a gauge or counter series read `value` from now on (Gauge::Set, and counters the
  // agent mirrors from elsewhere, such as process_cpu_seconds_total from /proc).
  static void SetValue(Series* series, double value);
  // Makes a gauge series read `base` plus what its cells hold: a value computed at each render
  // (a refresher's) beside adds recorded into the cells.
  static void SetBase(Series* series, double base) {
    series->value_base.store(base, std::memory_order_relaxed);
  }
  // The current values of a series into `values` (cells_per_series() of them): a counter's or
  // gauge's value with its SetValue base, or a histogram's cells summed over CPUs and folded as
  // HistogramLayout says. The one place a series is read; lock-free.
  static void ReadValues(const Series* series, double* values);
  // The current value of a counter or gauge series.
  static double ReadValue(const Series* series);
  // A histogram series' native bucket cells summed over CPUs into `cells` (the layout's
  // cells() of them); false when the family keeps no native buckets. Lock-free.
  static bool ReadNative(const Series* series, double* cells);

  // Offers `trace` as the exemplar of `bucket` (what ObserveInto returned for `value`; see
  // ExemplarSlot::Offer), timed by the family's clock, read only when there is something to
  // offer. Does nothing when the family keeps no exemplars, `trace` is not valid or `bucket`
  // is kNoBucket. Lock-free; no allocation.
  static void OfferExemplar(const Series* series, uint32_t bucket, double value,
                            const TraceContext& trace);
  // Same, when the caller already read the clock.
  static void OfferExemplar(const Series* series, uint32_t bucket, double value,
                            const TraceContext& trace, int64_t clock_nanos);
  // Same, from a public handle made at generation `gen`: stored only while the series keeps it.
  static void OfferExemplar(const Series* series, uint32_t bucket, double value,
                            const TraceContext& trace, uint32_t gen);
  // Bucket `bucket`'s exemplar (0 .. bounds().size(), +Inf last); false when it has none.
  static bool ReadExemplar(const Series* series, uint32_t bucket, Exemplar& out);

  // What Visit needs besides the family: the series list it copies and one series' values. A
  // caller that keeps one across visits (a scrape) allocates nothing once they have grown.
  struct VisitBuffers {
    std::vector<const Series*> series;
    std::vector<double> values;
  };

  // Calls fn(const Series&, const double* values) for every series that exists when it starts,
  // cells summed over CPUs: a counter's or gauge's value (with its SetValue base), or a
  // histogram's values as HistogramLayout folds them. Takes
  // `mu_` only to copy the series pointers; no lock is held while `fn` runs.
  template <typename Fn>
  void Visit(Fn&& fn, VisitBuffers& buffers) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<const Series*>& series = buffers.series;
    series.clear();
    {
      internal::MutexLock lock(&mu_);
      series.reserve(series_.size() + 1);
      for (const auto& s : series_) series.push_back(s.get());
      ++visits_;  // removed series are not reused while a visit may read them
    }
    struct EndVisit {
      Family* f;
      ~EndVisit() { f->EndVisit(); }
    } end_visit{this};
    if (overflow_used_.load(std::memory_order_acquire)) series.push_back(overflow_.get());
    buffers.values.resize(cells_per_series_);
    for (const Series* s : series) {  // not reused before the visit ends
      if (s->hidden.load(std::memory_order_relaxed)) continue;
      ReadValues(s, buffers.values.data());
      fn(*s, buffers.values.data());
    }
  }
  template <typename Fn>
  void Visit(Fn&& fn) ABSL_LOCKS_EXCLUDED(mu_) {
    VisitBuffers buffers;
    Visit(std::forward<Fn>(fn), buffers);
  }

 private:
  Series* Insert(uint64_t hash, absl::Span<const absl::string_view> values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::unique_ptr<Series> NewSeries(std::vector<std::string> values);
  // A removed series ready for reuse, given its new label values; null when there is none.
  std::unique_ptr<Series> ReuseSeries(std::vector<std::string>& values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LabelSeries(Series& s, std::vector<std::string> values);
  void EndVisit() ABSL_LOCKS_EXCLUDED(mu_);
  // Unlinks each of `gone` (live series of this family) and queues them for reuse (Remove's
  // work, checked by the caller): one label-table rebuild for them all.
  void RemoveLocked(absl::Span<Series* const> gone) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `s` recorded in the current idle epoch or the one before.
  bool RecentlyRecorded(const Series& s) const;
  // A fresh or reused series' idle-expiry fields.
  void StartIdleClock(Series& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the retiring series reusable when no visit runs and ReclaimGrace() holds.
  void ReclaimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Series* Overflowed();
  void FreeCells(const Series& s);

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  const std::vector<uint16_t> by_exponent_;  // SeriesCells::by_exponent, empty if not a histogram
  std::vector<std::string> le_texts_;
  uint32_t cells_per_series_;
  const size_t series_limit_;
  const HistogramExtras extras_;
  const Clock* const clock_;

  internal::Mutex mu_;
  LabelTable<Series> table_;  // reads lock-free, inserts under mu_
  std::vector<std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
  // Repaired label text -> series, so raw values that repair to the same text share a series.
  absl::flat_hash_map<std::string, Series*> by_text_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Series> overflow_;
  std::atomic<bool> overflow_used_{false};
  Family* overflow_family_ = nullptr;
  uint64_t life_ = 0;
  std::atomic<const SeriesCells*> overflow_counter_{nullptr};  // resolved at the first overflow
  bool for_callbacks_ = false;
  std::atomic<bool> owned_{false};
  bool removable_ = false;
  bool identity_ = false;
  std::atomic<const std::atomic<uint32_t>*> idle_epoch_{nullptr};
  const std::atomic<uint32_t>* idle_source_ = nullptr;
  bool idle_only_at_zero_ = false;
  bool idle_swept_by_owner_ = false;
  std::atomic<uint64_t> expired_{0};
  std::atomic<int64_t> hidden_series_{0};  // label sets in series_ hidden now (SetHidden)
  int visits_ ABSL_GUARDED_BY(mu_) = 0;
  size_t reused_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<Series>> retiring_ ABSL_GUARDED_BY(mu_);  // removed, not reusable yet
  std::vector<std::unique_ptr<Series>> reusable_ ABSL_GUARDED_BY(mu_);  // zeroed, for NewSeries
};

// `labels` given by name put in `family`'s label order into `values`: InvalidArgument naming
// an unknown, repeated or missing name.
absl::Status ValuesByName(const Family& family, absl::Span<const Label> labels,
                          absl::InlinedVector<absl::string_view, 8>& values);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_FAMILY_H_
