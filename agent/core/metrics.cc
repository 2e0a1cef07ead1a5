#include "vitals/metrics.h"

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/core/family.h"
#include "agent/core/series_reclaim.h"

namespace vitals {

using internal::Family;
using internal::Series;

namespace internal {

absl::Status ValuesByName(const Family& family, absl::Span<const Label> labels,
                          absl::InlinedVector<absl::string_view, 8>& values) {
  const std::vector<std::string>& names = family.label_names();
  auto fail = [&](absl::string_view why) {
    std::vector<absl::string_view> given;
    for (const Label& l : labels) given.push_back(l.name);
    return absl::InvalidArgumentError(absl::StrCat("metric \"", family.name(), "\" has labels [",
                                                   absl::StrJoin(names, ","), "], got [",
                                                   absl::StrJoin(given, ","), "]: ", why));
  };
  values.assign(names.size(), absl::string_view());
  absl::InlinedVector<bool, 8> seen(names.size(), false);
  for (const Label& l : labels) {
    size_t i = 0;
    while (i < names.size() && names[i] != l.name) ++i;
    if (i == names.size()) return fail(absl::StrCat("\"", l.name, "\" is not one of them"));
    if (seen[i]) return fail(absl::StrCat("\"", l.name, "\" is given twice"));
    seen[i] = true;
    values[i] = l.value;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (!seen[i]) return fail(absl::StrCat("\"", names[i], "\" is missing"));
  }
  return absl::OkStatus();
}

}  // namespace internal

namespace {
const Series* AsSeries(const internal::SeriesCells* core) {
  return static_cast<const Series*>(core);
}

// Whether a handle's series is the one it was made for (not removed since).
bool Current(const internal::SeriesCells* s, uint32_t gen) {
  return s->generation.load(std::memory_order_acquire) == gen;
}

// Reads through `read` when the series is still the handle's before and after the read (a
// removed series reads 0; memory is never freed under a handle, only reused).
template <typename T, typename Read>
T ReadCurrent(const internal::SeriesCells* s, uint64_t life, uint32_t gen, Read read) {
  if (!internal::AgentAlive(life) || !Current(s, gen)) return T{};
  T v = read();
  return Current(s, gen) ? v : T{};
}

}  // namespace

double Counter::Value() const {
  return ReadCurrent<double>(series_, life_, gen_,
                             [&] { return Family::ReadValue(AsSeries(series_)); });
}

void Gauge::Set(double value) const {
  if (!internal::AgentAlive(life_)) return;
  internal::NoteRecord(*series_);
  internal::WhileGeneration(series_->generation, gen_, [&] {
    Family::SetValue(const_cast<Series*>(AsSeries(series_)), value);
  });
}

double Gauge::Value() const {
  return ReadCurrent<double>(series_, life_, gen_,
                             [&] { return Family::ReadValue(AsSeries(series_)); });
}

namespace {
// A histogram's values: per-bucket counts, then the sum.
std::vector<double> HistogramCells(const internal::SeriesCells* s) {
  std::vector<double> values(s->layout().cells());
  Family::ReadValues(AsSeries(s), values.data());
  return values;
}
}  // namespace

void Histogram::Observe(double value, const TraceContext& trace) const {
  if (!internal::AgentAlive(life_)) return;
  Family::OfferExemplar(AsSeries(series_), internal::ObserveIntoChecked(*series_, gen_, value),
                        value, trace, gen_);
}

uint64_t Histogram::Count() const {
  return ReadCurrent<uint64_t>(series_, life_, gen_, [&] {
    std::vector<double> cells = HistogramCells(series_);
    double total = 0;
    for (uint32_t i = 0; i < series_->layout().buckets(); ++i) total += cells[i];
    return static_cast<uint64_t>(total);
  });
}

double Histogram::Sum() const {
  return ReadCurrent<double>(series_, life_, gen_,
                             [&] { return HistogramCells(series_)[series_->layout().sum()]; });
}

template <typename Handle>
absl::StatusOr<Handle> MetricFamily<Handle>::WithLabels(
    absl::Span<const absl::string_view> values) const {
  if (family_ == nullptr) return absl::FailedPreconditionError("empty metric family handle");
  if (!internal::AgentAlive(life_)) {
    return absl::FailedPreconditionError(
        "metric family of an agent that was destroyed; its handles record nothing");
  }
  uint32_t gen = 0;
  absl::StatusOr<Series*> series = family_->Get(values, &gen);
  if (!series.ok()) return series.status();
  return Family::MakeHandle<Handle>(*series, gen);
}

template <typename Handle>
absl::StatusOr<Handle> MetricFamily<Handle>::WithLabels(absl::Span<const Label> labels) const {
  if (family_ == nullptr || !internal::AgentAlive(life_))
    return WithLabels(absl::Span<const absl::string_view>());  // its error
  absl::InlinedVector<absl::string_view, 8> values;
  if (absl::Status s = internal::ValuesByName(*family_, labels, values); !s.ok()) return s;
  return WithLabels(absl::MakeConstSpan(values));
}

template <typename Handle>
absl::Status MetricFamily<Handle>::Remove(absl::Span<const absl::string_view> values) const {
  if (family_ == nullptr) return absl::FailedPreconditionError("empty metric family handle");
  if (!internal::AgentAlive(life_)) {
    return absl::FailedPreconditionError("metric family of an agent that was destroyed");
  }
  return family_->Remove(values);
}

template <typename Handle>
absl::Status MetricFamily<Handle>::Remove(absl::Span<const Label> labels) const {
  if (family_ == nullptr || !internal::AgentAlive(life_)) {
    return Remove(absl::Span<const absl::string_view>());  // its error
  }
  absl::InlinedVector<absl::string_view, 8> values;
  if (absl::Status s = internal::ValuesByName(*family_, labels, values); !s.ok()) return s;
  return Remove(absl::MakeConstSpan(values));
}

template <typename Handle>
const std::string& MetricFamily<Handle>::name() const {
  static const std::string* empty = new std::string;
  return family_ == nullptr || !internal::AgentAlive(life_) ? *empty : family_->name();
}

template <typename Handle>
absl::Status MetricFamily<Handle>::ExpireIdleSeries() const {
  if (family_ == nullptr) return absl::FailedPreconditionError("empty metric family handle");
  if (!internal::AgentAlive(life_)) {
    return absl::FailedPreconditionError("metric family of an agent that was destroyed");
  }
  const std::atomic<uint32_t>* epoch = family_->idle_source();
  if (epoch == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "metric \"", family_->name(),
        "\": series_idle_ttl is 0, or removed series cannot be reused in this process (the "
        "agent's log says why), so no series expires"));
  }
  return family_->ExpireIdle(epoch);
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

}  // namespace vitals
