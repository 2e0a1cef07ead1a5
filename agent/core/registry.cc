#include "agent/core/registry.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/core/names.h"
#include "agent/core/text_escape.h"

namespace vitals {
namespace internal {
namespace {

constexpr absl::string_view kOverflowFamily = "vitals_series_overflow_total";
constexpr absl::string_view kSeriesFamily = "vitals_series";
constexpr absl::string_view kSeriesExpiredFamily = "vitals_series_expired_total";
constexpr absl::string_view kSeriesLimitFamily = "vitals_series_limit";
constexpr absl::string_view kCallbackFailuresFamily = "vitals_callback_failures_total";

std::vector<std::string> EmittedNames(absl::string_view name, MetricType type) {
  std::vector<std::string> names = {std::string(name)};
  if (type == MetricType::kHistogram) {
    for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
      names.push_back(absl::StrCat(name, suffix));
    }
  }
  // OpenMetrics names an info family without its `_info`: that name is taken too.
  if (type == MetricType::kInfo) names.push_back(std::string(absl::StripSuffix(name, "_info")));
  return names;
}

}  // namespace

absl::Status ValidateBuckets(absl::string_view metric, const std::vector<double>& bounds) {
  if (bounds.empty() || bounds.size() > kMaxBuckets) {
    return absl::InvalidArgumentError(absl::StrCat("histogram \"", metric, "\": ", bounds.size(),
                                                   " buckets given, want 1 to ", kMaxBuckets));
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(absl::StrCat("histogram \"", metric, "\": bucket bound ",
                                                     bounds[i],
                                                     " is not finite (+Inf is implied)"));
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram \"", metric, "\": bucket bounds must increase strictly, got ",
                       bounds[i - 1], " then ", bounds[i]));
    }
  }
  return absl::OkStatus();
}

Registry::Registry(size_t series_limit, const Clock* clock)
    : series_limit_(series_limit), clock_(clock != nullptr ? clock : &Clock::Default()) {
  // The overflow counter is itself a family, with one series per other family.
  auto overflow = GetOrCreate(kOverflowFamily,
                              "Label-set lookups that were past a family's series limit and were "
                              "folded into its __overflow__ series.",
                              MetricType::kCounter, {"metric"}, {}, 1000000);
  auto series = GetOrCreate(kSeriesFamily,
                            "Label sets a family holds now (its __overflow__ series not counted), "
                            "by family: the series budget in use.",
                            MetricType::kGauge, {"metric"}, {}, 1000000);
  auto limit = GetOrCreate(kSeriesLimitFamily,
                           "The most label sets a family keeps before folding new ones into its "
                           "__overflow__ series, by family (families with labels).",
                           MetricType::kGauge, {"metric"}, {}, 1000000);
  auto expired = GetOrCreate(kSeriesExpiredFamily,
                             "Series removed because nothing recorded into them for "
                             "series_idle_ttl, by family (families that expire idle series).",
                             MetricType::kCounter, {"metric"}, {}, 1000000);
  internal::MutexLock lock(&mu_);
  if (overflow.ok()) overflow_family_ = *overflow;
  if (expired.ok()) expired_family_ = *expired;
  if (series.ok()) series_family_ = *series;
  if (limit.ok()) series_limit_family_ = *limit;
  for (const auto& f : families_) PrepareBudgetSeries(f.get());  // the three made above
}

void Registry::PrepareBudgetSeries(Family* f) {
  if (series_family_ == nullptr || series_limit_family_ == nullptr) return;
  const absl::string_view name = f->name();
  for (Family* budget : {series_family_, series_limit_family_}) {
    if (budget == series_limit_family_ && f->label_names().empty()) continue;
    if (Series* s = budget->Find(absl::MakeConstSpan(&name, 1)); s != nullptr && !s->overflow) {
      Family::SetHidden(s, true);  // shown once the family holds a series
    }
  }
}

std::vector<Registry::Budget> Registry::SeriesBudget() {
  std::vector<Family*> families;
  {
    internal::MutexLock lock(&mu_);
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::vector<Budget> out;
  for (Family* f : families) {  // families are never removed while the registry lives
    const size_t live = f->live_series();
    const double overflowed = f->overflowed_lookups();
    const uint64_t expired = f->expired_series();
    if (live == 0 && overflowed == 0 && expired == 0) continue;
    out.push_back(Budget{f, live, f->label_names().empty() ? 1 : f->series_limit(), overflowed,
                         f->expires_idle(), expired});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Budget& a, const Budget& b) { return a.series > b.series; });
  return out;
}

void Registry::RefreshSeriesBudget() {
  // Allocation-free once warm (a scrape allocates nothing): the list reuses its capacity.
  Family* series = nullptr;
  Family* limit = nullptr;
  Family* expired = nullptr;
  {
    internal::MutexLock lock(&mu_);
    series = series_family_;
    limit = series_limit_family_;
    expired = expired_family_;
    refresh_families_.clear();
    for (const auto& f : families_) refresh_families_.push_back(f.get());
  }
  if (series == nullptr || limit == nullptr) return;
  // Every family's two series exist from its creation (PrepareBudgetSeries), hidden until it
  // holds a series: finding them here never creates one. First which are shown (twice: the
  // budget families' own counts follow what the first pass showed), then the values, so each
  // count is that of the exposition this refresh precedes.
  auto budget_series = [&](Family* budget, Family* f) -> Series* {
    const absl::string_view name = f->name();
    Series* s = budget->Find(absl::MakeConstSpan(&name, 1));
    return s == nullptr || s->overflow ? nullptr : s;  // null: past the budget family's limit
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (Family* f : refresh_families_) {  // families are never removed while the registry lives
      const bool shown = f->live_series() > 0 || f->overflowed_lookups() > 0;
      if (Series* s = budget_series(series, f)) Family::SetHidden(s, !shown);
      if (f->label_names().empty()) continue;
      if (Series* l = budget_series(limit, f)) Family::SetHidden(l, !shown);
    }
  }
  for (Family* f : refresh_families_) {
    if (const uint64_t gone = f->expired_series(); gone > 0 && expired != nullptr) {
      // Made at the first expiry (one allocation, once): most families never expire a series.
      const absl::string_view name = f->name();
      Family::SetValue(expired->Find(absl::MakeConstSpan(&name, 1)), static_cast<double>(gone));
    }
    if (Series* s = budget_series(series, f)) {
      Family::SetValue(s, static_cast<double>(f->live_series()));
    }
    if (f->label_names().empty()) continue;
    if (Series* l = budget_series(limit, f)) {
      Family::SetValue(l, static_cast<double>(f->series_limit()));
    }
  }
}

absl::StatusOr<Family*> Registry::GetOrCreate(absl::string_view name, absl::string_view help,
                                              MetricType type, std::vector<std::string> label_names,
                                              std::vector<double> bounds, size_t series_limit,
                                              HistogramExtras extras, FamilyKind kind) {
  const bool for_callbacks = kind == FamilyKind::kCallback;
  if (absl::Status s = ValidateMetricName(name); !s.ok()) return s;
  if (absl::Status s = ValidateLabelNames(name, label_names); !s.ok()) return s;
  for (const auto& [constant, value] : constant_labels_) {
    if (std::find(label_names.begin(), label_names.end(), constant) != label_names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric \"", name, "\": label \"", constant,
                       "\" is a constant label (Options::constant_labels) of every series"));
    }
  }
  if (type == MetricType::kHistogram) {
    if (absl::Status s = ValidateBuckets(name, bounds); !s.ok()) return s;
  }
  if (type == MetricType::kInfo && (!absl::EndsWith(name, "_info") || name == "_info")) {
    return absl::InvalidArgumentError(
        absl::StrCat("info metric \"", name, "\" must end in \"_info\" (OpenMetrics)"));
  }
  internal::MutexLock lock(&mu_);
  const std::vector<std::string> emitted = EmittedNames(name, type);
  for (const std::string& n : emitted) {
    auto it = names_.find(n);
    if (it == names_.end()) continue;
    Family* existing = it->second;
    if (existing->name() == name && existing->for_callbacks() != for_callbacks) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric \"", name, "\" already exists ",
                       for_callbacks ? "with handles; a callback needs a metric of its own"
                                     : "as a callback metric; it has no handles"));
    }
    if (existing->name() == name && existing->type() == type &&
        existing->label_names() == label_names &&
        (type != MetricType::kHistogram ||
         (existing->bounds() == bounds && existing->extras() == extras))) {
      return existing;
    }
    if (existing->name() == name) {
      return absl::AlreadyExistsError(absl::StrCat(
          "metric \"", name, "\" already exists as a ", MetricTypeName(existing->type()),
          " with labels [", absl::StrJoin(existing->label_names(), ","), "]"));
    }
    return absl::AlreadyExistsError(absl::StrCat(
        "metric \"", name, "\" (", MetricTypeName(type), ") would emit \"", n, "\", which the ",
        MetricTypeName(existing->type()), " \"", existing->name(), "\" already emits"));
  }
  auto family = std::make_unique<Family>(
      std::string(name), RepairUtf8(help, kMaxHelpBytes), type, std::move(label_names),
      std::move(bounds), series_limit == 0 ? series_limit_ : series_limit, extras, clock_);
  if (!family->ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("metric \"", name, "\": the process has no metric cells left"));
  }
  // A family without labels has one label set, so it can never overflow: no series for it.
  if (overflow_family_ != nullptr && !family->label_names().empty()) {
    family->set_overflow_family(overflow_family_);
  }
  family->set_life(life_.token());
  if (for_callbacks) family->set_for_callbacks();
  if (kind == FamilyKind::kUser) {
    family->set_removable();
    if (idle_expiry_) family->set_idle_source(&idle_epoch_.value);
  }
  Family* raw = family.get();
  for (const std::string& n : emitted) names_[n] = raw;
  families_.push_back(std::move(family));
  PrepareBudgetSeries(raw);
  return raw;
}

absl::StatusOr<Family*> Registry::GetOrCreateAnyOrder(absl::string_view name,
                                                      absl::string_view help, MetricType type,
                                                      std::vector<std::string> label_names,
                                                      std::vector<double> bounds,
                                                      HistogramExtras extras, FamilyKind kind) {
  {
    internal::MutexLock lock(&mu_);
    auto it = names_.find(name);
    if (it != names_.end() && it->second->name() == name && it->second->type() == type) {
      std::vector<std::string> existing = it->second->label_names();
      std::vector<std::string> asked = label_names;
      std::sort(existing.begin(), existing.end());
      std::sort(asked.begin(), asked.end());
      if (existing == asked) label_names = it->second->label_names();
    }
  }
  return GetOrCreate(name, help, type, std::move(label_names), std::move(bounds), 0, extras, kind);
}

bool Registry::Emits(absl::string_view name) {
  internal::MutexLock lock(&mu_);
  return names_.contains(name);
}

void Registry::ConfigureCallbacks(absl::Duration timeout, RateLimitedLog* log) {
  auto failures = GetOrCreate(kCallbackFailuresFamily,
                              "Scrape-time callbacks that did not give values: reason is timeout "
                              "(still running at the callback timeout), exception or error.",
                              MetricType::kCounter, {"metric", "reason"}, {});
  callbacks_.Configure(timeout, log, failures.ok() ? *failures : nullptr);
  AddRefresher(kSeriesFamily, [this] { RefreshSeriesBudget(); });
}

void Registry::SweepIdle(int64_t now, int64_t ttl) {
  std::vector<Family*> families;
  {
    internal::MutexLock lock(&mu_);
    for (const auto& f : families_) {
      if (f->expires_idle() && !f->idle_swept_by_owner()) families.push_back(f.get());
    }
  }
  for (Family* f : families) f->SweepIdle(now, ttl);  // never removed while the registry lives
}

void Registry::AdvanceIdleEpoch() { idle_epoch_.value.fetch_add(1, std::memory_order_relaxed); }

uint64_t Registry::AddRefresher(absl::string_view metric, std::function<void()> fn) {
  return callbacks_.Add(std::string(metric), [fn = std::move(fn)] {
    fn();
    return absl::OkStatus();
  });
}

void Registry::AddCollectable(std::weak_ptr<prometheus::Collectable> collectable) {
  internal::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

std::vector<std::shared_ptr<prometheus::Collectable>> Registry::Collectables() {
  std::vector<std::shared_ptr<prometheus::Collectable>> alive;
  internal::MutexLock lock(&mu_);
  std::vector<std::weak_ptr<prometheus::Collectable>> kept;
  for (auto& weak : collectables_) {
    if (auto strong = weak.lock()) {
      alive.push_back(std::move(strong));
      kept.push_back(weak);
    }
  }
  collectables_ = std::move(kept);
  return alive;
}

}  // namespace internal
}  // namespace vitals

namespace vitals {
namespace internal {

void Registry::SetConstantLabels(std::vector<std::pair<std::string, std::string>> labels) {
  constant_labels_text_.clear();
  for (const auto& [name, value] : labels) {
    if (!constant_labels_text_.empty()) constant_labels_text_ += ',';
    AppendLabelPair(constant_labels_text_, name, value);
  }
  constant_labels_ = std::move(labels);
}

}  // namespace internal
}  // namespace vitals
