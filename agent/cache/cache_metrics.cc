#include "agent/cache/cache_metrics.h"

#include <utility>

#include "agent/core/family_spec.h"

namespace vitals {
namespace internal {

std::vector<double> CacheLoadBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

absl::StatusOr<std::unique_ptr<CacheFamilies>> CacheFamilies::Create(Registry& registry) {
  std::unique_ptr<CacheFamilies> c(new CacheFamilies());
  c->life_ = registry.life();
  absl::Status s = CreateFamilies(
      registry,
      {
          {&c->gets_,
           "cache_gets_total",
           "Cache lookups, by cache and result: hit (the entry was there) or miss.",
           MetricType::kCounter,
           {"cache", "result"}},
          {&c->puts_,
           "cache_puts_total",
           "Entries stored in the cache, new or replacing.",
           MetricType::kCounter,
           {"cache"}},
          {&c->evictions_,
           "cache_evictions_total",
           "Entries removed to make room or because they expired.",
           MetricType::kCounter,
           {"cache"}},
          {&c->evictions_unused_,
           "cache_evictions_unused_total",
           "Evicted entries that were never hit after being stored: a sign the cache is too "
           "small or caches the wrong thing.",
           MetricType::kCounter,
           {"cache"}},
          {&c->size_, "cache_size", "Entries in the cache now.", MetricType::kGauge, {"cache"}},
          {&c->max_size_,
           "cache_max_size",
           "The most entries the cache holds, where it is bounded.",
           MetricType::kGauge,
           {"cache"}},
          {&c->load_duration_,
           "cache_load_duration_seconds",
           "Time spent loading values for misses, successful or not.",
           MetricType::kHistogram,
           {"cache"},
           CacheLoadBuckets()},
          {&c->load_failures_,
           "cache_load_failures_total",
           "Loads for misses that failed.",
           MetricType::kCounter,
           {"cache"}},
      });
  if (!s.ok()) return s;
  return c;
}

CacheMetrics CacheFamilies::Get(absl::string_view name) {
  internal::MutexLock lock(&mu_);
  // Past kMaxCacheNames distinct names (names built from request data, say), every new name
  // shares the overflow series instead of growing this map.
  if (caches_.size() >= kMaxCacheNames && !caches_.contains(name)) name = kOverflowLabelValue;
  auto [it, inserted] = caches_.try_emplace(std::string(name));
  if (!inserted) return it->second;
  const absl::string_view one[] = {name};
  const absl::string_view hit[] = {name, "hit"};
  const absl::string_view miss[] = {name, "miss"};
  CacheMetrics& m = it->second;
  m.hits_ = Family::MakeHandle<Counter>(gets_->Find(hit));
  m.misses_ = Family::MakeHandle<Counter>(gets_->Find(miss));
  m.puts_ = Family::MakeHandle<Counter>(puts_->Find(one));
  m.evictions_ = Family::MakeHandle<Counter>(evictions_->Find(one));
  m.evictions_unused_ = Family::MakeHandle<Counter>(evictions_unused_->Find(one));
  m.load_failures_ = Family::MakeHandle<Counter>(load_failures_->Find(one));
  m.size_ = Family::MakeHandle<Gauge>(size_->Find(one));
  m.load_duration_ = Family::MakeHandle<Histogram>(load_duration_->Find(one));
  m.owner_ = this;
  m.name_ = &it->first;
  m.life_ = life_;
  return m;
}

void CacheFamilies::SetMaxSize(const std::string& name, double entries) {
  const absl::string_view one[] = {name};
  Family::SetValue(max_size_->Find(one), entries);
}

}  // namespace internal

void CacheMetrics::SetMaxSize(double entries) const {
  if (enabled()) owner_->SetMaxSize(*name_, entries);
}

}  // namespace vitals
