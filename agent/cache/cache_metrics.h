// agent/cache/cache_metrics.h: the cache_* families and the per-cache handles of vitals/cache.h.
//
// Families are created with the agent, so dashboards see them (HELP/TYPE, no series) before any
// cache exists. `Get(name)` resolves every series of one cache once; the handles it returns
// record without a lock. Cache names are label values: any bytes, repaired, and bounded by the
// series limit like every label.

#ifndef VITALS_AGENT_CACHE_CACHE_METRICS_H_
#define VITALS_AGENT_CACHE_CACHE_METRICS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "vitals/cache.h"

namespace vitals {
namespace internal {

// Upper bounds of cache_load_duration_seconds: 100 us .. 10 s.
std::vector<double> CacheLoadBuckets();

class CacheFamilies {
 public:
  static constexpr size_t kMaxCacheNames = 4096;

  static absl::StatusOr<std::unique_ptr<CacheFamilies>> Create(Registry& registry);

  // The handles of cache `name`; the same series for the same name.
  CacheMetrics Get(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // Serves cache_max_size{cache=name}.
  void SetMaxSize(const std::string& name, double entries);

 private:
  CacheFamilies() = default;

  Family* gets_ = nullptr;
  Family* puts_ = nullptr;
  Family* evictions_ = nullptr;
  Family* evictions_unused_ = nullptr;
  Family* size_ = nullptr;
  Family* max_size_ = nullptr;
  Family* load_duration_ = nullptr;
  Family* load_failures_ = nullptr;
  uint64_t life_ = 0;  // the registry's token, for CacheMetrics::enabled

  internal::Mutex mu_;
  // Names handed out, so handles can point at a stable copy.
  absl::node_hash_map<std::string, CacheMetrics> caches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CACHE_CACHE_METRICS_H_
