#include "vitals/metrics.h"

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/core/family.h"

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
}  // namespace

double Counter::Value() const {
  return internal::AgentAlive(life_) ? Family::ReadValue(AsSeries(series_)) : 0;
}

void Gauge::Set(double value) const {
  if (internal::AgentAlive(life_)) Family::SetValue(const_cast<Series*>(AsSeries(series_)), value);
}

double Gauge::Value() const {
  return internal::AgentAlive(life_) ? Family::ReadValue(AsSeries(series_)) : 0;
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
  Family::OfferExemplar(AsSeries(series_), internal::ObserveInto(*series_, value), value, trace);
}

uint64_t Histogram::Count() const {
  if (!internal::AgentAlive(life_)) return 0;
  std::vector<double> cells = HistogramCells(series_);
  double total = 0;
  for (uint32_t i = 0; i < series_->layout().buckets(); ++i) total += cells[i];
  return static_cast<uint64_t>(total);
}

double Histogram::Sum() const {
  if (!internal::AgentAlive(life_)) return 0;
  return HistogramCells(series_)[series_->layout().sum()];
}

template <typename Handle>
absl::StatusOr<Handle> MetricFamily<Handle>::WithLabels(
    absl::Span<const absl::string_view> values) const {
  if (family_ == nullptr) return absl::FailedPreconditionError("empty metric family handle");
  if (!internal::AgentAlive(life_)) {
    return absl::FailedPreconditionError(
        "metric family of an agent that was destroyed; its handles record nothing");
  }
  absl::StatusOr<Series*> series = family_->Get(values);
  if (!series.ok()) return series.status();
  return Family::MakeHandle<Handle>(*series);
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
const std::string& MetricFamily<Handle>::name() const {
  static const std::string* empty = new std::string;
  return family_ == nullptr || !internal::AgentAlive(life_) ? *empty : family_->name();
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

}  // namespace vitals
