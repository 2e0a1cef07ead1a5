// vitals/cache.h: hit rates and churn for any cache the service has.
//
// `Agent::Cache("users")` hands out a `CacheMetrics` for one named cache; the service calls it
// where its cache decides (hit, miss, put, eviction, load). `vitals::LruCache`
// (vitals/lru_cache.h) calls it by itself. Names follow Micrometer's cache binder:
//
//   cache_gets_total{cache, result="hit"|"miss"}   cache_puts_total{cache}
//   cache_evictions_total{cache}                   cache_size{cache}, cache_max_size{cache}
//
// plus what common binders do not report: `cache_evictions_unused_total{cache}` (entries
// evicted before any hit: the cache is too small or caches the wrong thing),
// `cache_load_duration_seconds{cache}` (time spent filling misses) and
// `cache_load_failures_total{cache}`.
//
// Cost: every recording call is one or two counter increments on handles resolved when the
// `CacheMetrics` was made: a restartable add to the running CPU's copy of a cell (about 4 ns),
// no lock, no atomic read-modify-write, no cache line another CPU writes.
// `SetSize`/`SetMaxSize` read every CPU's copy (see `Gauge::Set`): use `AddSize` on hot paths.
// Ownership: a small value pointing into the agent; once the agent is destroyed it records
// nothing (so a cache that outlives the agent can still be destroyed or used safely).
// A default-constructed `CacheMetrics` records nothing. Thread-safety: any thread, at once.

#ifndef VITALS_CACHE_H_
#define VITALS_CACHE_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "vitals/detail/export.h"
#include "vitals/metrics.h"

namespace vitals {

namespace internal {
class CacheFamilies;
}  // namespace internal

class VITALS_EXPORT CacheMetrics {
 public:
  CacheMetrics() = default;  // records nothing

  // One lookup that found its entry.
  void Hit() const { hits_.Increment(); }
  // One lookup that did not (absent or expired).
  void Miss() const { misses_.Increment(); }
  // One entry stored (new or replaced).
  void Put() const { puts_.Increment(); }
  // One entry removed to make room or because it expired. `was_used`: it had been hit at
  // least once since it was stored; if not, it also counts in cache_evictions_unused_total.
  void Eviction(bool was_used) const {
    evictions_.Increment();
    if (!was_used) evictions_unused_.Increment();
  }
  // One load that filled a miss, and how long it took; a failed load also counts in
  // cache_load_failures_total.
  void Load(absl::Duration duration, bool ok) const {
    load_duration_.Observe(absl::ToDoubleSeconds(duration));
    if (!ok) load_failures_.Increment();
  }
  // Entries now held: a delta (hot-path cheap) or an absolute value (takes a lock).
  void AddSize(double delta) const { size_.Add(delta); }
  void SetSize(double entries) const { size_.Set(entries); }
  // The bound, in entries, when the cache has one (serves cache_max_size).
  void SetMaxSize(double entries) const;

  // False for a default-constructed handle, and once the agent is gone.
  bool enabled() const { return internal::AgentAlive(life_); }

 private:
  friend class internal::CacheFamilies;
  Counter hits_, misses_, puts_, evictions_, evictions_unused_, load_failures_;
  Gauge size_;
  Histogram load_duration_;
  internal::CacheFamilies* owner_ = nullptr;
  const std::string* name_ = nullptr;  // owned by `owner_`
  uint64_t life_ = 0;                  // the agent's token (vitals/detail/agent_life.h)
};

}  // namespace vitals

#endif  // VITALS_CACHE_H_
