#include "vitals/metrics.h"

#include "agent/core/family.h"

namespace vitals {

using internal::Family;
using internal::Series;

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
const std::string& MetricFamily<Handle>::name() const {
  static const std::string* empty = new std::string;
  return family_ == nullptr || !internal::AgentAlive(life_) ? *empty : family_->name();
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

}  // namespace vitals
