#include "agent/core/family.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "agent/core/native_histogram.h"
#include "agent/core/series_reclaim.h"
#include "agent/core/text_escape.h"

namespace vitals {
namespace internal {
namespace {

using LabelValues = absl::InlinedVector<absl::string_view, 8>;

// Label values as they are kept, looked up and served: cut at kMaxLabelValueBytes, so a 100 KB
// value costs no more than a 1 KB one, and values alike in their first 1 KiB share a series.
LabelValues KeptValues(absl::Span<const absl::string_view> values) {
  LabelValues kept(values.begin(), values.end());
  for (absl::string_view& v : kept) v = v.substr(0, kMaxLabelValueBytes);
  return kept;
}

}  // namespace

absl::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kInfo:
      return "info";
  }
  return "untyped";
}

Family::Family(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> bounds,
               size_t series_limit, HistogramExtras extras, const Clock* clock)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(type == MetricType::kHistogram ? std::move(bounds) : std::vector<double>()),
      by_exponent_(BucketExponentIndex(bounds_)),
      cells_per_series_(type == MetricType::kHistogram
                            ? HistogramLayout{static_cast<uint32_t>(bounds_.size())}.cells()
                            : 1),
      series_limit_(series_limit),
      extras_(type == MetricType::kHistogram ? extras : HistogramExtras{}),
      clock_(clock),
      table_(series_limit) {
  for (double b : bounds_) {
    std::string le = "le=\"";
    AppendValue(le, b);
    le += '"';
    le_texts_.push_back(std::move(le));
  }
  le_texts_.push_back("le=\"+Inf\"");
  overflow_ =
      NewSeries(std::vector<std::string>(label_names_.size(), std::string(kOverflowLabelValue)));
  if (overflow_ != nullptr) overflow_->overflow = true;
}

Family::~Family() {
  internal::MutexLock lock(&mu_);
  for (const auto& s : series_) FreeCells(*s);
  for (const auto& s : retiring_) FreeCells(*s);
  for (const auto& s : reusable_) FreeCells(*s);
  if (overflow_) FreeCells(*overflow_);
}

void Family::FreeCells(const Series& s) { CellStore::Get().FreeSeries(s); }

bool operator==(const HistogramExtras& a, const HistogramExtras& b) {
  if (a.exemplars != b.exemplars || a.native != b.native) return false;
  if (!a.native) return true;
  const NativeLayout &x = a.native_layout, &y = b.native_layout;
  return x.schema == y.schema && x.zero_threshold == y.zero_threshold && x.max == y.max &&
         x.max_buckets == y.max_buckets;
}

absl::StatusOr<HistogramExtras> ExtrasOf(absl::string_view metric,
                                         const HistogramFeatures& features) {
  HistogramExtras extras;
  extras.exemplars = features.exemplars;
  if (features.native) {
    auto layout = MakeNativeLayout(metric, features.native_schema, features.native_zero_threshold,
                                   features.native_max, features.native_max_buckets);
    if (!layout.ok()) return layout.status();
    extras.native = true;
    extras.native_layout = *layout;
  }
  return extras;
}

std::vector<uint16_t> BucketExponentIndex(const std::vector<double>& bounds) {
  std::vector<uint16_t> index;
  if (bounds.empty() || bounds.size() > 0xffff) return index;
  index.resize(kExponentIndexSize);
  for (uint32_t e = 0; e + 1 < kExponentIndexSize; ++e) {
    // The smallest positive double of biased exponent e: 2^(e - 1023); +Inf for e = 2047.
    const double edge = e == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(e) - 1023);
    index[e] = static_cast<uint16_t>(std::lower_bound(bounds.begin(), bounds.end(), edge) -
                                     bounds.begin());
  }
  index[kExponentIndexSize - 1] = static_cast<uint16_t>(bounds.size());
  return index;
}

std::unique_ptr<Series> Family::ReuseSeries(std::vector<std::string>& values) {
  if (reusable_.empty()) return nullptr;
  std::unique_ptr<Series> s = std::move(reusable_.back());
  reusable_.pop_back();
  ++reused_;
  LabelSeries(*s, std::move(values));
  s->linked.store(true, std::memory_order_relaxed);  // published by the table's insert
  StartIdleClock(*s);
  return s;
}

void Family::LabelSeries(Series& s, std::vector<std::string> values) {
  s.labels_text.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s.labels_text += ',';
    AppendLabelPair(s.labels_text, label_names_[i], values[i]);
  }
  s.values = std::move(values);
}

absl::Status Family::Remove(absl::Span<const absl::string_view> values) {
  if (!removable_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "metric \"", name_, "\" is one of the agent's own: its series cannot be removed"));
  }
  if (absl::Status s = CheckValueCount(values.size()); !s.ok()) return s;
  const LabelValues cut = KeptValues(values);  // as Find keeps them
  const uint64_t hash = HashLabelValues(cut);
  internal::MutexLock lock(&mu_);
  Series* series = table_.Find(hash, cut);
  if (series == nullptr || series->overflow) {
    return absl::NotFoundError(
        absl::StrCat("metric \"", name_, "\" has no series with those label values"));
  }
  RemoveLocked({series});
  ReclaimLocked();
  return absl::OkStatus();
}

void Family::RemoveLocked(absl::Span<Series* const> gone) {
  if (gone.empty()) return;
  for (Series* series : gone) {
    // A lookup that read the generation while the series was linked finds it still linked
    // after (Find); one that reads it after this finds it unlinked and takes the locked path.
    series->linked.store(false, std::memory_order_seq_cst);
    SetHidden(series, false);  // a hidden label set no longer counts as hidden once it is gone
    // From here its handles record nothing (the adds in flight are waited for in
    // ReclaimLocked).
    series->generation.fetch_add(1, std::memory_order_seq_cst);
    by_text_.erase(series->labels_text);
  }
  // One rebuild of the label table and one pass over the list for them all, however many.
  table_.RemoveIf([](const Series* s) { return !s->linked.load(std::memory_order_relaxed); });
  auto kept = std::stable_partition(series_.begin(), series_.end(), [](const auto& s) {
    return s->linked.load(std::memory_order_relaxed);
  });
  for (auto it = kept; it != series_.end(); ++it) retiring_.push_back(std::move(*it));
  series_.erase(kept, series_.end());
}

void Family::ReclaimLocked() {
  if (retiring_.empty() || visits_ > 0) return;
  // A lookup still inside the table may hold a retiring series it found before the unlink.
  if (!table_.NoReaders()) return;
  if (!ReclaimGrace()) return;  // tried again at the next removal, visit or sweep
  CellStore& store = CellStore::Get();
  for (std::unique_ptr<Series>& s : retiring_) {
    store.ZeroSeries(*s);  // both forms; a promoted series stays promoted
    if (s->exemplars != nullptr) {
      for (uint32_t i = 0; i <= s->num_bounds; ++i) s->exemplars[i].Clear();
    }
    s->value_base.store(0, std::memory_order_relaxed);
    s->hidden.store(false, std::memory_order_relaxed);
    s->observed_round = 0;
    reusable_.push_back(std::move(s));
  }
  retiring_.clear();
}

void Family::Reclaim() {
  internal::MutexLock lock(&mu_);
  ReclaimLocked();
}

absl::Status Family::ExpireIdle(const std::atomic<uint32_t>* epoch, bool only_at_zero) {
  if (!table_.reclaimable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("metric \"", name_, "\" keeps its series for good: they cannot expire"));
  }
  if (epoch == nullptr) return absl::InvalidArgumentError("no idle epoch");
  internal::MutexLock lock(&mu_);
  idle_only_at_zero_ = only_at_zero;
  idle_epoch_.store(epoch, std::memory_order_release);
  for (const auto& series : series_) StartIdleClock(*series);
  return absl::OkStatus();
}

void Family::StartIdleClock(Series& s) {
  const std::atomic<uint32_t>* epoch = idle_epoch_.load(std::memory_order_relaxed);
  s.idle_seen = 0;
  if (epoch != nullptr) s.last_epoch.store(epoch->load(std::memory_order_relaxed));
  s.idle_epoch.store(epoch, std::memory_order_release);
}

bool Family::RecentlyRecorded(const Series& s) const {
  const std::atomic<uint32_t>* epoch = idle_epoch_.load(std::memory_order_acquire);
  if (epoch == nullptr) return true;
  const uint32_t age = epoch->load(std::memory_order_relaxed) -
                       s.last_epoch.load(std::memory_order_relaxed);  // wraps as it should
  return age <= 1;
}

std::vector<Series*> Family::IdleSeries(int64_t now, int64_t ttl) {
  std::vector<Series*> idle;
  if (!expires_idle()) return idle;
  internal::MutexLock lock(&mu_);
  for (const auto& s : series_) {
    if (RecentlyRecorded(*s) || s->idle_seen == 0) {
      s->idle_seen = now;
      continue;
    }
    if (now - s->idle_seen < ttl) continue;
    if (idle_only_at_zero_ && ReadValue(s.get()) != 0) continue;  // calls still in flight
    idle.push_back(s.get());
  }
  return idle;
}

size_t Family::ExpireSeries(absl::Span<Series* const> candidates) {
  if (candidates.empty()) return 0;
  internal::MutexLock lock(&mu_);
  std::vector<Series*> gone;
  for (Series* s : candidates) {
    if (!s->linked.load(std::memory_order_relaxed) || RecentlyRecorded(*s)) continue;
    if (idle_only_at_zero_ && ReadValue(s) != 0) continue;
    gone.push_back(s);
  }
  RemoveLocked(gone);
  const size_t expired = gone.size();
  expired_.fetch_add(expired, std::memory_order_relaxed);
  ReclaimLocked();
  return expired;
}

size_t Family::SweepIdle(int64_t now, int64_t ttl) {
  const std::vector<Series*> idle = IdleSeries(now, ttl);
  if (idle.empty()) {
    Reclaim();
    return 0;
  }
  return ExpireSeries(idle);
}

void Family::EndVisit() {
  internal::MutexLock lock(&mu_);
  if (--visits_ == 0) ReclaimLocked();
}

size_t Family::retiring_series() {
  internal::MutexLock lock(&mu_);
  return retiring_.size();
}

size_t Family::series_reused() {
  internal::MutexLock lock(&mu_);
  return reused_;
}

size_t Family::reusable_series() {
  internal::MutexLock lock(&mu_);
  return reusable_.size();
}

std::unique_ptr<Series> Family::NewSeries(std::vector<std::string> values) {
  // Every series starts shared; the record path promotes the busy ones to per-CPU cells.
  auto s = std::make_unique<Series>();
  s->num_cells = cells_per_series_;
  if (extras_.native) s->native = &extras_.native_layout;
  s->shared_cells = CellStore::AllocateShared(s->num_cells + s->native_cells());
  s->shared = s->shared_cells.get();
  if (extras_.exemplars) {
    s->exemplars = std::make_unique<ExemplarSlot[]>(bounds_.size() + 1);
  }
  s->bounds = bounds_.data();
  s->num_bounds = static_cast<uint32_t>(bounds_.size());
  s->by_exponent = by_exponent_.empty() ? nullptr : by_exponent_.data();
  s->family = this;
  LabelSeries(*s, std::move(values));
  return s;
}

Series* Family::Overflowed() {
  NoteOverflow();
  return overflow_series();
}

Series* Family::overflow_series() {
  if (!overflow_used_.load(std::memory_order_relaxed)) {
    overflow_used_.store(true, std::memory_order_release);
  }
  return overflow_.get();
}

size_t Family::live_series() {
  internal::MutexLock lock(&mu_);
  const int64_t hidden = hidden_series_.load(std::memory_order_relaxed);
  return series_.size() -
         static_cast<size_t>(std::clamp<int64_t>(hidden, 0, static_cast<int64_t>(series_.size())));
}

void Family::SetHidden(Series* series, bool hidden) {
  if (series->hidden.exchange(hidden, std::memory_order_relaxed) == hidden) return;
  if (series->overflow) return;  // not a label set of series_
  series->family->hidden_series_.fetch_add(hidden ? 1 : -1, std::memory_order_relaxed);
}

double Family::overflowed_lookups() const {
  const SeriesCells* counter = overflow_counter_.load(std::memory_order_acquire);
  if (counter == nullptr) return 0;
  double value = 0;
  CellStore::Get().SumSeries(*counter, 0, 1, &value);
  return value;
}

void Family::NoteOverflow() {
  if (overflow_family_ == nullptr) return;
  const SeriesCells* counter = overflow_counter_.load(std::memory_order_acquire);
  if (counter == nullptr) {
    const absl::string_view label = name_;
    counter = overflow_family_->Find(absl::MakeConstSpan(&label, 1));  // same series every time
    overflow_counter_.store(counter, std::memory_order_release);
  }
  AddToSeries(*counter, 1.0);
}

Series* Family::Find(absl::Span<const absl::string_view> values, uint32_t* gen) {
  for (absl::string_view v : values) {
    if (ABSL_PREDICT_FALSE(v.size() > kMaxLabelValueBytes)) return Find(KeptValues(values), gen);
  }
  const uint64_t hash = HashLabelValues(values);
  // Read while counted as the table's reader: a series found linked after its generation was
  // read had that generation with these labels (RemoveLocked unlinks it before moving it),
  // and it is not reused before this reader leaves (ReclaimLocked).
  uint32_t found_gen = 0;
  Series* found = table_.FindIf(hash, values, [&](Series* s) {
    found_gen = s->generation.load(std::memory_order_seq_cst);
    return s->linked.load(std::memory_order_seq_cst);
  });
  if (found == nullptr) {
    if (table_.full()) return Overflowed();
    internal::MutexLock lock(&mu_);
    found = table_.Find(hash, values);
    if (found == nullptr) found = Insert(hash, values);
    found_gen = found->generation.load(std::memory_order_relaxed);  // removals hold mu_ too
  }
  if (gen != nullptr) *gen = found_gen;
  return found;
}

Series* Family::Insert(uint64_t hash, absl::Span<const absl::string_view> values) {
  std::vector<std::string> repaired;
  repaired.reserve(values.size());
  std::string text;
  for (size_t i = 0; i < values.size(); ++i) {
    repaired.push_back(RepairUtf8(values[i], kMaxLabelValueBytes));
    if (i > 0) text += ',';
    AppendLabelPair(text, label_names_[i], repaired.back());
  }
  if (!label_names_.empty() && overflow_ != nullptr && text == overflow_->labels_text) {
    // Every value is "__overflow__": that label set is the overflow series, never a twin of
    // it, and it takes none of the series limit.
    table_.Insert(hash, values, overflow_.get(), /*counted=*/false);
    return overflow_series();
  }
  Series* series = nullptr;
  auto it = by_text_.find(text);
  if (it != by_text_.end()) {
    series = it->second;  // another spelling of an existing label set
  } else if (series_.size() < series_limit_) {
    std::unique_ptr<Series> fresh = ReuseSeries(repaired);
    if (fresh == nullptr) {
      fresh = NewSeries(std::move(repaired));
      if (fresh == nullptr) return Overflowed();  // out of cells
      StartIdleClock(*fresh);
    }
    series = fresh.get();
    by_text_.emplace(std::move(text), series);
    series_.push_back(std::move(fresh));
  } else {
    return Overflowed();
  }
  if (!table_.Insert(hash, values, series)) return Overflowed();
  return series;
}

absl::Status Family::CheckValueCount(size_t count) const {
  if (count == label_names_.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("metric \"", name_, "\" has ", label_names_.size(),
                                                 " label(s), got ", count, " value(s)"));
}

absl::StatusOr<Series*> Family::Get(absl::Span<const absl::string_view> values, uint32_t* gen) {
  if (absl::Status s = CheckValueCount(values.size()); !s.ok()) return s;
  return Find(values, gen);
}

void Family::Disown() {
  {
    internal::MutexLock lock(&mu_);
    // Its callback has returned and will not run again: nothing writes these series.
    std::vector<Series*> all;
    for (const auto& s : series_) all.push_back(s.get());
    RemoveLocked(all);
    ReclaimLocked();
  }
  overflow_->hidden.store(true, std::memory_order_relaxed);
  owned_.store(false);
}

void Family::HideUnobserved(uint64_t round) {
  internal::MutexLock lock(&mu_);
  // Only the callback thread writes a callback family's series, and it is here: the series it
  // left out are removed (their label sets free their place under the limit; their memory is
  // reused once no scrape reads them). The overflow series is only hidden.
  std::vector<Series*> unobserved;
  for (const auto& s : series_) {
    if (s->observed_round != round) unobserved.push_back(s.get());
  }
  RemoveLocked(unobserved);
  if (!unobserved.empty()) ReclaimLocked();
  if (overflow_->observed_round != round) overflow_->hidden.store(true, std::memory_order_relaxed);
}

void Family::SetValue(Series* series, double value) {
  double shares = 0;
  CellStore::Get().SumSeries(*series, 0, 1, &shares);
  series->value_base.store(value - shares, std::memory_order_relaxed);
}

void Family::ReadValues(const Series* series, double* values) {
  const Family& f = *series->family;
  CellStore::Get().SumSeries(*series, 0, f.cells_per_series_, values);
  if (f.type_ == MetricType::kHistogram) {
    series->layout().Fold(values, values);
  } else {
    values[0] += series->value_base.load(std::memory_order_relaxed);
  }
}

bool Family::ReadNative(const Series* series, double* cells) {
  if (series->native == nullptr) return false;
  CellStore::Get().SumSeries(*series, series->num_cells, series->native->cells(), cells);
  return true;
}

void Family::OfferExemplar(const Series* series, uint32_t bucket, double value,
                           const TraceContext& trace) {
  if (series->exemplars == nullptr || !trace.valid() || bucket > series->num_bounds) return;
  OfferExemplar(series, bucket, value, trace, series->family->clock_->NowNanos());
}

void Family::OfferExemplar(const Series* series, uint32_t bucket, double value,
                           const TraceContext& trace, int64_t clock_nanos) {
  if (series->exemplars == nullptr || !trace.valid() || bucket > series->num_bounds) return;
  series->exemplars[bucket].Offer(Exemplar{trace, value, clock_nanos});
}

void Family::OfferExemplar(const Series* series, uint32_t bucket, double value,
                           const TraceContext& trace, uint32_t gen) {
  if (series->exemplars == nullptr || !trace.valid() || bucket > series->num_bounds) return;
  const int64_t now = series->family->clock_->NowNanos();
  ExemplarSlot& slot = series->exemplars[bucket];
  if (!slot.Wants(now)) return;  // the common case: no writer count taken
  WhileGeneration(series->generation, gen, [&] { slot.Offer(Exemplar{trace, value, now}); });
}

bool Family::ReadExemplar(const Series* series, uint32_t bucket, Exemplar& out) {
  if (series->exemplars == nullptr || bucket > series->num_bounds) return false;
  return series->exemplars[bucket].Read(out);
}

double Family::ReadValue(const Series* series) {
  double v = 0;
  ReadValues(series, &v);  // one cell: counters and gauges
  return v;
}

}  // namespace internal
}  // namespace vitals
